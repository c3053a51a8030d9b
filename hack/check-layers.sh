#!/usr/bin/env bash
# The include rule between the layers of src/ (DESIGN.md §3, "Dependency rule"): every `#include "dir/..."` in
# src/**/*.{c,h} must name a layer that the including file's layer may use. Prints each offending include as
#
#     src/api/model.c:12: api may not include controller
#
# and exits 1; exits 0 when every include obeys the rule. Includes of system headers (<...>) are not read.
#
# Usage: hack/check-layers.sh [ROOT]     ROOT holds src/ (default: this repository)
#
# The layers, lowest first. A file may always include files of its own layer (its own folder; for
# controllers/<name>, that one controller's folder). A folder of src/ that the table does not name fails the check,
# both as a place for files and as the target of an include: a new folder is placed in the table first. A layer
# the tree does not have (yet) is simply absent.
#
#   layer          | may include                                          | what it is
LAYERS='
    common         | -                                                    | runtime
    kube           | common                                               | API client
    pki            | common                                               | certificates
    pgsql          | common                                               | libpq sessions; quoting, SCRAM
    naming         | common                                               | names, labels, annotations
    controller     | common kube                                          | informers, queue, manager
    api            | common kube pki pgsql:pure naming                    | model, observed state
    postgres       | common kube pki pgsql:pure naming api                | component (others may use it)
    patroni        | common kube pki pgsql:pure naming api postgres       | component
    pgbackrest     | common kube pki pgsql:pure naming api postgres       | component
    pgbouncer      | common kube pki pgsql:pure naming api postgres       | component
    pgmonitor      | common kube pki pgsql:pure naming api postgres       | component
    pgadmin        | common kube pki pgsql:pure naming api postgres       | component
    controllers/*  | common kube pki pgsql naming controller api COMPONENTS | reconcilers (not one another)
    cmd            | *                                                    | main: any layer of the table
'
# COMPONENTS stands for every component folder above.
COMPONENTS='postgres patroni pgbackrest pgbouncer pgmonitor pgadmin'
# pgsql:pure: of pgsql/, only the headers that talk to no database (quoting and SCRAM are pure functions); its
# session headers are for the controllers alone, because only controllers talk to the API server or a database.
PGSQL_PURE='sql.h scram.h'

set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
[ -d "$root/src" ] || {
	echo "check-layers: $root/src is not a directory" >&2
	exit 2
}

declare -A allowed=()
while IFS='|' read -r layer uses _; do
	layer=${layer//[[:space:]]/}
	[ -n "$layer" ] || continue
	read -ra words <<<"${uses//COMPONENTS/$COMPONENTS}"
	allowed[$layer]=" ${words[*]} "
done <<<"$LAYERS"

# layer_of PATH: sets layer to the layer of PATH (relative to src/, or an include's target): its first folder, or
# controllers/<name>; empty when PATH is in no folder. Sets row to the layer's row of the table (controllers/<name>:
# controllers/*), empty when the table has none.
layer_of() {
	layer=${1%%/*} row=
	if [ "$layer" = "$1" ]; then
		layer=
		return
	fi
	if [ "$layer" = controllers ]; then
		local rest=${1#controllers/}
		[ "${rest%%/*}" = "$rest" ] || layer=controllers/${rest%%/*} row='controllers/*'
		return
	fi
	[ -n "${allowed[$layer]+x}" ] && row=$layer
}

bad=0 includes=0 files=0
fail() {
	echo "$1"
	bad=$((bad + 1))
}
cd "$root" || exit 2

# Every file's layer must be in the table.
while IFS= read -r -d '' file; do
	files=$((files + 1))
	layer_of "${file#src/}"
	[ -n "$row" ] || fail "$file:1: ${layer:-src/} is not a layer of hack/check-layers.sh (place the folder in its table)"
done < <(find src -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)

# Every include "..." of those files, as FILE:LINE:TEXT.
while IFS= read -r hit; do
	file=${hit%%:*} hit=${hit#*:}
	lineNo=${hit%%:*} text=${hit#*:}
	[[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]*)\" ]] || continue
	target=${BASH_REMATCH[1]}
	includes=$((includes + 1))
	layer_of "${file#src/}"
	from=$layer fromRow=$row
	[ -n "$fromRow" ] || continue # reported above
	layer_of "$target"
	to=$layer toRow=$row
	if [ -z "$to" ] || [[ $target == ../* || $target == ./* ]]; then
		fail "$file:$lineNo: \"$target\" names no layer folder (include it as \"<layer>/...\")"
		continue
	fi
	if [ -z "$toRow" ]; then
		fail "$file:$lineNo: $to is not a layer of hack/check-layers.sh (place the folder in its table)"
		continue
	fi
	[ "$to" = "$from" ] && continue
	uses=${allowed[$fromRow]}
	[[ $uses == *" * "* || $uses == *" $toRow "* ]] && continue
	if [ "$to" = pgsql ] && [[ $uses == *" pgsql:pure "* ]]; then
		[[ " $PGSQL_PURE " == *" ${target#pgsql/} "* ]] && continue
		fail "$file:$lineNo: $from may not include $to ($target: of pgsql/ only ${PGSQL_PURE// /, } are pure)"
		continue
	fi
	fail "$file:$lineNo: $from may not include $to"
done < <(find src -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z |
	xargs -0 -r grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' /dev/null)

if [ "$bad" -gt 0 ]; then
	echo "check-layers: $bad breaks of the layer rule in $files files ($includes includes; table: hack/check-layers.sh)"
	exit 1
fi
echo "check-layers: $includes includes in $files files obey the layer rule"
