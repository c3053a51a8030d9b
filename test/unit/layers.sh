#!/usr/bin/env bash
# The include rule between the layers of src/ (hack/check-layers.sh), as TAP: the tree obeys it, and the checker
# itself, on small fake trees made here, passes every include the table allows and reports each one it forbids with
# file, line and the two layers. Run by test/run.sh in the unit tier.
# shellcheck source=../lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
checker=$root/hack/check-layers.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tap_check "src/ obeys the layer rule" "$checker" "$root"

# put TREE FILE LINE...: write src/FILE of fake tree TREE, one argument a line.
put() {
	mkdir -p "$work/$1/src/$(dirname "$2")"
	printf '%s\n' "${@:3}" >"$work/$1/src/$2"
}

# Every include the table allows, and the ones it ignores (system headers, commented includes).
put good common/memctx.h '#include "common/error.h"' '#include <stdio.h>'
put good kube/request.c '#include "kube/request.h"' '#include "common/memctx.h"' '#include <curl/curl.h>'
put good naming/names.c '#include "common/strbuf.h"'
put good pgsql/session.c '#include "pgsql/scram.h"' '#include "common/error.h"' '#include <libpq-fe.h>'
put good controller/informer.c '#include "kube/watch.h"' '#include "common/log.h"'
put good api/model.c '#include "naming/names.h"' '#include "pki/authority.h"' '#include "pgsql/sql.h"' \
	'#include "kube/quantity.h"' '/* #include "controller/informer.h" */'
put good postgres/hba.c '#include "api/model.h"' '#include "pgsql/scram.h"'
put good patroni/config.c '  #  include "postgres/hba.h"' '#include "api/model.h"' '#include <patroni/x.h>'
put good controllers/postgrescluster/stage.c '#include "controllers/postgrescluster/stage.h"' \
	'#include "controller/manager.h"' '#include "pgsql/session.h"' '#include "pgadmin/pod.h"'
put good cmd/main.c '#include "controllers/postgrescluster/stage.h"' '#include "controllers/pgupgrade/upgrade.h"'
tap_check "the checker passes every include its table allows" "$checker" "$work/good"

# One forbidden include of each kind.
put bad common/log.c '#include "common/log.h"' '#include "cmd/settings.h"'
put bad kube/http.c '#include "naming/names.h"'
put bad naming/names.c '#include "kube/request.h"'
put bad controller/informer.c '#include "api/model.h"'
put bad api/model.c '#include "controller/informer.h"' '#include "pgsql/session.h"' '#include "postgres/hba.h"'
put bad postgres/hba.c '#include "patroni/config.h"'
put bad patroni/config.c '#include "postgres/hba.h"' '#include "pgbackrest/repo.h"'
put bad controllers/a/a.c '#include "controllers/b/b.h"' '#include "cmd/settings.h"'
put bad shiny/new.c '#include "common/log.h"'
put bad cmd/main.c '#include "bogus/x.h"' '#include "local.h"' '#include "../common/log.h"'
cat >"$work/expected" <<-'EOF'
	src/api/model.c:1: api may not include controller
	src/api/model.c:2: api may not include pgsql (pgsql/session.h: of pgsql/ only sql.h, scram.h are pure)
	src/api/model.c:3: api may not include postgres
	src/cmd/main.c:1: bogus is not a layer of hack/check-layers.sh (place the folder in its table)
	src/cmd/main.c:2: "local.h" names no layer folder (include it as "<layer>/...")
	src/cmd/main.c:3: "../common/log.h" names no layer folder (include it as "<layer>/...")
	src/common/log.c:2: common may not include cmd
	src/controller/informer.c:1: controller may not include api
	src/controllers/a/a.c:1: controllers/a may not include controllers/b
	src/controllers/a/a.c:2: controllers/a may not include cmd
	src/kube/http.c:1: kube may not include naming
	src/naming/names.c:1: naming may not include kube
	src/patroni/config.c:2: patroni may not include pgbackrest
	src/postgres/hba.c:1: postgres may not include patroni
	src/shiny/new.c:1: shiny is not a layer of hack/check-layers.sh (place the folder in its table)
EOF
bad_tree() {
	local rc
	"$checker" "$work/bad" >"$work/out"
	rc=$?
	[ "$rc" = 1 ] || {
		echo "exit status $rc, not 1"
		return 1
	}
	grep -qF 'check-layers: 15 breaks of the layer rule in 10 files (17 includes;' "$work/out" || {
		tail -1 "$work/out"
		return 1
	}
	grep -v '^check-layers:' "$work/out" | sort | diff -u "$work/expected" -
}
tap_check "the checker reports each forbidden include as file:line: <layer> may not include <layer>" bad_tree

missing_src() {
	"$checker" "$work/nowhere" 2>/dev/null
	[ $? = 2 ]
}
tap_check "the checker fails (status 2) on a tree without src/" missing_src
tap_done
