#!/bin/sh
# writer.sh LABEL SECONDS: one INSERT per attempt, each on a new connection
# through the client's default target (hippo-primary, verify-full), until
# /tmp/stop-LABEL appears or SECONDS pass. Prints one line per attempt:
#   ok   N START END
#   fail N START END MESSAGE
# with the client's clock (seconds since the epoch). A new connection per
# write measures what a reconnecting application sees during a failover.
label=$1
limit=$2
end=$(($(date +%s) + limit))
n=0
rm -f "/tmp/stop-$label"
while [ ! -e "/tmp/stop-$label" ] && [ "$(date +%s)" -lt "$end" ]; do
	n=$((n + 1))
	start=$(date +%s.%N)
	if err=$(timeout 3 psql -XAtq -v ON_ERROR_STOP=1 \
		-c "INSERT INTO writes (label, n) VALUES ('$label', $n)" 2>&1); then
		echo "ok $n $start $(date +%s.%N)"
	else
		echo "fail $n $start $(date +%s.%N) $(printf '%s' "$err" | tr '\n' ' ' | cut -c1-200)"
	fi
	sleep 0.1
done
echo "done $n"
