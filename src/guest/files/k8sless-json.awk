# k8sless-json.awk: the small JSON reader of the k8sless guest.
#
# Container-Optimized OS has bash, curl, coreutils and awk but no jq, so the
# guest scripts read JSON with this POSIX awk program (tested with mawk and
# gawk). It parses the whole input once, remembers where every value starts
# and ends, and answers one operation:
#
#   awk -f k8sless-json.awk -v op=OP [-v path=PATH] [-v paths="P1 P2"] FILE
#
#   op=raw     the value at PATH as compact JSON          (exit 1 if absent)
#   op=str     the string at PATH, decoded                (exit 1 if absent)
#   op=strs    each of PATHS decoded, one per line (an empty line if absent)
#   op=len     the number of elements of the array at PATH (0 if absent)
#   op=pod     for a kubelet PodList: picks the pod whose metadata.uid is
#              -v uid=UID (else the only pod) and prints two lines:
#              "UID<TAB>NAME<TAB>PHASE<TAB>SIGNATURE" and the compact status
#   op=containers  for a pod status: "NAME<TAB>RESTARTCOUNT" per container
#              (init containers first)
#   op=nodelost    for a pod status: the same status as phase Failed with
#              -v reason=R -v message=M, as compact JSON
#
# A PATH is "" for the whole document, else a chain of .key and [index]
# steps, as in .items[0].status.phase. Keys that contain "." or "[" cannot
# be addressed (the guest never needs them).

BEGIN {
  RS = "\001"
}

{ doc = doc $0 }

END {
  s = doc
  n = length(s)
  pos = 1
  failed = 0
  parse_value("")
  skip_ws()
  if (failed || pos <= n) {
    print "k8sless-json: input is not valid JSON" > "/dev/stderr"
    exit 2
  }
  if (op == "raw") {
    if (!(path in vstart)) exit 1
    print compact(path)
  } else if (op == "str") {
    if (!(path in vstart)) exit 1
    print value_str(path)
  } else if (op == "strs") {
    cnt = split(paths, plist, " ")
    for (i = 1; i <= cnt; i++) print value_str(plist[i])
  } else if (op == "len") {
    print ((path in vlen) ? vlen[path] : 0)
  } else if (op == "pod") {
    pod_op()
  } else if (op == "containers") {
    containers_op("")
  } else if (op == "nodelost") {
    nodelost_op("")
  } else {
    print "k8sless-json: unknown op " op > "/dev/stderr"
    exit 2
  }
}

# ---- parser -------------------------------------------------------------

function skip_ws(   c) {
  while (pos <= n) {
    c = substr(s, pos, 1)
    if (c == " " || c == "\n" || c == "\t" || c == "\r") pos++
    else break
  }
}

function fail() {
  failed = 1
  pos = n + 1
  return 0
}

# Parses the value at pos and records it under path p.
function parse_value(p,   c, k) {
  skip_ws()
  if (pos > n) return fail()
  c = substr(s, pos, 1)
  vstart[p] = pos
  if (c == "{") {
    if (!opened(p, "object", "}")) {
      while (!failed) {
        skip_ws()
        if (substr(s, pos, 1) != "\"") return fail()
        k = decode(scan_string())
        skip_ws()
        if (substr(s, pos, 1) != ":") return fail()
        pos++
        vkey[p, vlen[p]] = k
        vlen[p]++
        parse_value(p "." k)
        if (closed("}")) break
      }
    }
  } else if (c == "[") {
    if (!opened(p, "array", "]")) {
      while (!failed) {
        parse_value(p "[" vlen[p] "]")
        vlen[p]++
        if (closed("]")) break
      }
    }
  } else if (c == "\"") {
    vtype[p] = "string"
    scan_string()
  } else {
    vtype[p] = "literal"
    while (pos <= n) {
      c = substr(s, pos, 1)
      if (c == "," || c == "}" || c == "]" || c == " " || c == "\n" || c == "\t" || c == "\r") break
      pos++
    }
    if (pos == vstart[p]) return fail()
  }
  vend[p] = pos
  return 1
}

# Starts the container at pos (on its opening character) as a value of type t
# under path p; 1 when it is empty (then pos is after its closing character).
function opened(p, t, end) {
  vtype[p] = t
  vlen[p] = 0
  pos++
  skip_ws()
  if (substr(s, pos, 1) != end) return 0
  pos++
  return 1
}

# Reads what follows a member or element: 1 at the container's closing
# character (and on malformed input, which fails the parse), 0 after a comma.
function closed(end,   c) {
  skip_ws()
  c = substr(s, pos, 1)
  pos++
  if (c == end) return 1
  if (c != ",") fail()
  return failed
}

# Scans the string starting at pos (on its opening quote); returns its
# contents, still escaped, and leaves pos after the closing quote.
function scan_string(   start, c) {
  pos++
  start = pos
  while (pos <= n) {
    c = substr(s, pos, 1)
    if (c == "\\") {
      pos += 2
    } else if (c == "\"") {
      pos++
      return substr(s, start, pos - 1 - start)
    } else {
      pos++
    }
  }
  fail()
  return ""
}

# Decodes JSON string escapes (\u escapes beyond ASCII become "?").
function decode(t,   out, i, c, e, code) {
  if (index(t, "\\") == 0) return t
  out = ""
  for (i = 1; i <= length(t); i++) {
    c = substr(t, i, 1)
    if (c != "\\") { out = out c; continue }
    i++
    e = substr(t, i, 1)
    if (e == "n") out = out "\n"
    else if (e == "t") out = out "\t"
    else if (e == "r") out = out "\r"
    else if (e == "b") out = out "\b"
    else if (e == "f") out = out "\f"
    else if (e == "u") {
      code = hex(substr(t, i + 1, 4))
      i += 4
      if (code >= 32 && code < 127) out = out sprintf("%c", code)
      else if (code == 10) out = out "\n"
      else out = out "?"
    } else out = out e
  }
  return out
}

function hex(h,   i, v, d) {
  v = 0
  h = tolower(h)
  for (i = 1; i <= length(h); i++) {
    d = index("0123456789abcdef", substr(h, i, 1))
    if (d == 0) return -1
    v = v * 16 + d - 1
  }
  return v
}

# ---- accessors ----------------------------------------------------------

function raw(p) {
  if (!(p in vstart)) return ""
  return substr(s, vstart[p], vend[p] - vstart[p])
}

# The value at p without whitespace outside strings (copied in runs, so
# that already compact input costs one pass).
function compact(p,   t, out, i, c, instr, run) {
  t = raw(p)
  out = ""
  instr = 0
  run = 1
  for (i = 1; i <= length(t); i++) {
    c = substr(t, i, 1)
    if (instr) {
      if (c == "\\") i++
      else if (c == "\"") instr = 0
    } else if (c == "\"") {
      instr = 1
    } else if (c == " " || c == "\n" || c == "\t" || c == "\r") {
      out = out substr(t, run, i - run)
      run = i + 1
    }
  }
  return out substr(t, run)
}

# A string value decoded, a literal as written, "" otherwise.
function value_str(p,   t) {
  if (!(p in vstart)) return ""
  t = raw(p)
  if (vtype[p] == "string") return decode(substr(t, 2, length(t) - 2))
  if (vtype[p] == "literal") return t
  return ""
}

# Escapes a string for JSON output.
function json_quote(t,   out, i, c) {
  out = ""
  for (i = 1; i <= length(t); i++) {
    c = substr(t, i, 1)
    if (c == "\"" || c == "\\") out = out "\\" c
    else if (c == "\n") out = out "\\n"
    else if (c == "\r") out = out "\\r"
    else if (c == "\t") out = out "\\t"
    else out = out c
  }
  return "\"" out "\""
}

# ---- pod operations -----------------------------------------------------

function pod_op(   i, count, chosen, p, st) {
  count = ((".items" in vlen) ? vlen[".items"] : 0)
  chosen = -1
  for (i = 0; i < count; i++) {
    if (uid != "" && value_str(".items[" i "].metadata.uid") == uid) chosen = i
  }
  if (chosen < 0 && count == 1) chosen = 0
  if (chosen < 0) exit 1
  p = ".items[" chosen "]"
  st = p ".status"
  printf "%s\t%s\t%s\t%s\n", value_str(p ".metadata.uid"), value_str(p ".metadata.name"), value_str(st ".phase"), signature(st)
  if (st in vstart) print compact(st)
  else print "{}"
}

# What the reporter compares between polls: the phase, and for every
# container its state, reason, exit code, restart count and readiness.
# Timestamps and messages are left out so that only transitions count.
function signature(st,   sig, at, from, cnt, i, c, kind) {
  sig = "phase=" value_str(st ".phase")
  cnt = statuses(st, "initContainerStatuses containerStatuses ephemeralContainerStatuses", at, from)
  for (i = 1; i <= cnt; i++) {
    c = at[i]
    kind = "none"
    if ((c ".state.waiting") in vstart) kind = "waiting"
    if ((c ".state.running") in vstart) kind = "running"
    if ((c ".state.terminated") in vstart) kind = "terminated"
    sig = sig ";" from[i] ":" value_str(c ".name") "=" kind
    if (kind != "none" && kind != "running") sig = sig "/" value_str(c ".state." kind ".reason")
    if (kind == "terminated") sig = sig "/" value_str(c ".state.terminated.exitCode")
    sig = sig "/r" value_str(c ".restartCount") "/" value_str(c ".ready") "/" value_str(c ".started")
  }
  return sig
}

function containers_op(st,   at, from, cnt, i, c) {
  cnt = statuses(st, "initContainerStatuses containerStatuses", at, from)
  for (i = 1; i <= cnt; i++) {
    c = at[i]
    printf "%s\t%s\n", value_str(c ".name"), (((c ".restartCount") in vstart) ? value_str(c ".restartCount") : 0)
  }
}

# Fills at[1..] with the paths of the container statuses under st in the
# lists named (space-separated) in names, in that order, and from[] with each
# one's list; returns how many there are.
function statuses(st, names, at, from,   lists, nl, li, l, i, cnt, total) {
  nl = split(names, lists, " ")
  total = 0
  for (li = 1; li <= nl; li++) {
    l = st "." lists[li]
    cnt = ((l in vlen) ? vlen[l] : 0)
    for (i = 0; i < cnt; i++) {
      total++
      at[total] = l "[" i "]"
      from[total] = lists[li]
    }
  }
  return total
}

function nodelost_op(st,   out, i, k) {
  out = "{\"phase\":\"Failed\",\"reason\":" json_quote(reason) ",\"message\":" json_quote(message)
  if (vtype[st] == "object") {
    for (i = 0; i < vlen[st]; i++) {
      k = vkey[st, i]
      if (k == "phase" || k == "reason" || k == "message") continue
      out = out "," json_quote(k) ":" compact(st "." k)
    }
  }
  print out "}"
}
