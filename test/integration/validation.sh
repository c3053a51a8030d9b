#!/usr/bin/env bash
# The schemas and CEL rules against a real kube-apiserver:
#  - every manifest in test/integration/valid/ (the seed's PostgresClusters
#    and PGUpgrades, and one that sets every field) is accepted;
#  - every manifest in test/integration/invalid/ is refused, with the
#    message fragment its "# expect:" line names. By default a case is sent
#    as a server-side apply (what the seed's commands do); "# mode: create"
#    sends it with kubectl create.
# All requests are server-side dry runs, so the cases do not interfere.
# shellcheck source=lib.bash
source "$(dirname "$0")/lib.bash"

start_apiserver
kubectl create namespace postgres-operator >/dev/null
if ! install_crds; then
	tap_fail "CRDs installed" "$(kubectl get crd 2>&1)"
	tap_done
	exit 1
fi

for f in test/integration/valid/*.yaml; do
	tap_check "accepted: ${f##*/}" \
		kubectl apply --server-side --dry-run=server -n postgres-operator -f "$f"
done

count=0
for f in test/integration/invalid/*.yaml; do
	count=$((count + 1))
	expect=$(sed -n 's/^# expect: //p' "$f")
	mode=$(sed -n 's/^# mode: //p' "$f")
	if [ -z "$expect" ]; then
		tap_fail "refused: ${f##*/}" "the file has no '# expect:' line"
		continue
	fi
	if [ "$mode" = create ]; then
		out=$(kubectl create --dry-run=server -f "$f" 2>&1)
	else
		out=$(kubectl apply --server-side --dry-run=server -f "$f" 2>&1)
	fi
	rc=$?
	if [ $rc -eq 0 ]; then
		tap_fail "refused: ${f##*/}" "accepted, but should fail with: $expect"
	elif ! grep -qF -- "$expect" <<<"$out"; then
		tap_fail "refused: ${f##*/}" "$(printf 'expected: %s\ngot: %s' "$expect" "$out")"
	else
		tap_ok "refused: ${f##*/} ($expect)"
	fi
done
if [ "$count" -ge 50 ]; then
	tap_ok "the invalid corpus has $count cases (at least 50)"
else
	tap_fail "the invalid corpus has $count cases (at least 50)"
fi

tap_done
