// The official JavaScript Kubernetes client (@kubernetes/client-node, pinned in
// tests/clients/package-lock.json) against k8sless: listNamespace, create, read, list with a
// label selector, merge and JSON patch, watch to Succeeded, logs, events, 409 on a duplicate,
// delete, 404 after. Usage: node js/flow.mjs KUBECONFIG. Each failure names its step.
import * as k8s from '@kubernetes/client-node';
import { PassThrough } from 'node:stream';

const kc = new k8s.KubeConfig();
kc.loadFromFile(process.argv[2]);
const core = kc.makeApiClient(k8s.CoreV1Api);
const name = 'js-one';
const namespace = 'js-team';

async function step(what, expected, fn) {
  try {
    const out = await fn();
    console.log(`ok: ${what}`);
    return out;
  } catch (e) {
    const detail = e?.code ? `HTTP ${e.code}: ${typeof e.body === 'string' ? e.body : JSON.stringify(e.body)}` : (e?.stack ?? String(e));
    console.error(`[@kubernetes/client-node] step '${what}': expected ${expected}; ${detail}`);
    process.exit(1);
  }
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

const pod = {
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name, labels: { suite: 'clients', flow: 'js' } },
  spec: {
    restartPolicy: 'Never',
    containers: [{ name: 'main', image: 'busybox:1.36', command: ['sh', '-c', 'echo hello; sleep 3'],
      resources: { requests: { cpu: '250m', memory: '256Mi' } } }],
  },
};

await step('createNamespace', '201 (serve answers 404 for pods in a namespace nobody created)', async () => {
  const created = await core.createNamespace({ body: { metadata: { name: namespace } } });
  check(created.status?.phase === 'Active', `phase ${created.status?.phase}`);
});
await step('createNamespacedPod', '201 Pending', async () => {
  const created = await core.createNamespacedPod({ namespace, body: pod });
  check(created.status?.phase === 'Pending', `phase ${created.status?.phase}`);
});
await step('listNamespace', 'default and js-team', async () => {
  const list = await core.listNamespace();
  const names = list.items.map((n) => n.metadata?.name);
  check(names.includes('default') && names.includes(namespace), `got ${names}`);
  const ns = await core.readNamespace({ name: namespace });
  check(ns.status?.phase === 'Active', `phase ${ns.status?.phase}`);
});
await step('createNamespacedPod again', '409 AlreadyExists', async () => {
  try {
    await core.createNamespacedPod({ namespace, body: pod });
  } catch (e) {
    check(e.code === 409, `HTTP ${e.code}`);
    return;
  }
  throw new Error('the duplicate was accepted');
});
await step('readNamespacedPod, listNamespacedPod with labelSelector', 'the pod', async () => {
  const got = await core.readNamespacedPod({ name, namespace });
  check(got.metadata?.name === name, 'wrong pod');
  const list = await core.listNamespacedPod({ namespace, labelSelector: 'flow=js' });
  check(list.items.length === 1, `${list.items.length} items`);
});
await step('patchNamespacedPod (merge, JSON patch)', 'labels set', async () => {
  const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  await core.patchNamespacedPod({ name, namespace, body: { metadata: { labels: { merged: 'yes' } } } }, merge);
  const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
  const p = await core.patchNamespacedPod({ name, namespace, body: [{ op: 'add', path: '/metadata/labels/json', value: 'yes' }] }, jsonPatch);
  check(p.metadata?.labels?.merged === 'yes' && p.metadata?.labels?.json === 'yes', JSON.stringify(p.metadata?.labels));
});
await step('Watch to Succeeded', 'phase Succeeded within 60 s', () => new Promise((resolve, reject) => {
  let request;
  const finish = (err) => {
    clearTimeout(timer);
    request?.abort?.();
    if (err) reject(err); else resolve();
  };
  const timer = setTimeout(() => finish(new Error('no Succeeded within 60 s')), 60000);
  new k8s.Watch(kc).watch(`/api/v1/namespaces/${namespace}/pods`, { fieldSelector: `metadata.name=${name}` },
    (type, obj) => { if (obj?.status?.phase === 'Succeeded') finish(); },
    (err) => { if (err && err.name !== 'AbortError') finish(err); })
    .then((req) => { request = req; })
    .catch(finish);
}));
await step('readNamespacedPodLog', 'the container output', async () => {
  const log = await core.readNamespacedPodLog({ name, namespace });
  check(typeof log === 'string' && log.trim().length > 0, `log ${JSON.stringify(log)}`);
});
await step('Log (follow)', 'the container output', async () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => { text += d; });
  const req = await new k8s.Log(kc).log(namespace, name, 'main', out, { follow: true });
  await new Promise((r) => out.on('end', r).on('close', r));
  req?.abort?.();
  check(text.trim().length > 0, 'empty');
});
await step('readNamespacedPodStatus, listNamespacedEvent', 'Succeeded and events', async () => {
  const st = await core.readNamespacedPodStatus({ name, namespace });
  check(st.status?.phase === 'Succeeded', st.status?.phase);
  const ev = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  check(ev.items.length > 0, 'no events');
});
await step('deleteNamespacedPod, then read', '404 within 30 s', async () => {
  await core.deleteNamespacedPod({ name, namespace });
  const deadline = Date.now() + 30000;
  for (;;) {
    try {
      await core.readNamespacedPod({ name, namespace });
    } catch (e) {
      check(e.code === 404, `HTTP ${e.code}`);
      return;
    }
    check(Date.now() < deadline, 'still there');
    await new Promise((r) => setTimeout(r, 300));
  }
});
console.log('javascript flow: ok');
process.exit(0);
