#!/bin/bash
# k8sless-gcr-credentials: a kubelet image credential provider (exec plugin,
# credentialprovider.kubelet.k8s.io/v1) for Artifact Registry and Container
# Registry. kubelet runs it for images that match *.pkg.dev, gcr.io and
# *.gcr.io; it answers with an OAuth access token of the VM's service account
# from the metadata server. Other registries are pulled anonymously.

set -o errexit -o nounset -o pipefail

METADATA_URL="${K8SLESS_METADATA_URL:-http://metadata.google.internal}"

# kubelet writes a CredentialProviderRequest on stdin; the answer does not
# depend on it, but read it so kubelet never blocks on a full pipe.
cat > /dev/null

token_json="$(curl --fail --silent --show-error --retry 3 --retry-connrefused --connect-timeout 3 --max-time 10 \
  -H 'Metadata-Flavor: Google' \
  "${METADATA_URL}/computeMetadata/v1/instance/service-accounts/default/token")"

# The answer is flat JSON such as {"access_token":"ya29...","expires_in":3599,"token_type":"Bearer"}.
token="$(printf '%s' "${token_json}" | sed -n 's/.*"access_token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')"
expires="$(printf '%s' "${token_json}" | sed -n 's/.*"expires_in"[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p')"
if [[ -z "${token}" ]]; then
  echo "k8sless-gcr-credentials: no access token from the metadata server" >&2
  exit 1
fi
# Cache for at most 10 minutes and never past the token's own expiry.
cache=$((${expires:-600} - 120))
((cache > 600)) && cache=600
((cache < 0)) && cache=0

auth='{"username":"oauth2accesstoken","password":"'"${token}"'"}'
printf '{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse",'
printf '"cacheKeyType":"Registry","cacheDuration":"%ss","auth":{' "${cache}"
printf '"*.pkg.dev":%s,"gcr.io":%s,"*.gcr.io":%s}}\n' "${auth}" "${auth}" "${auth}"
