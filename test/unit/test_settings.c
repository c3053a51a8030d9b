/* Unit tests: cmd/settings (PGO's environment variables and our flags). */
#include "harness/harness.h"

#include "cmd/settings.h"
#include "common/alloc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARGV(...) ((const char *const[]){"postgres-operator", __VA_ARGS__, NULL})
#define ENV(...)  ((const char *const[]){__VA_ARGS__, NULL})

typedef struct SettingsFixture {
    MemCtx *ctx;
    Settings settings;
    Err err;
} SettingsFixture;

static int setUp(void **state)
{
    SettingsFixture *f = calloc(1, sizeof(*f));
    f->ctx = memCtxNew(NULL, "t");
    *state = f;
    return 0;
}

static int tearDown(void **state)
{
    SettingsFixture *f = *state;
    memCtxFree(f->ctx);
    free(f);
    return 0;
}

static int argCount(const char *const *argv)
{
    int count = 0;
    while (argv[count] != NULL)
        count++;
    return count;
}

static bool parse(SettingsFixture *f, const char *const *argv, const char *const *env)
{
    return settingsParse(f->ctx, argCount(argv), argv, env, &f->settings, &f->err);
}

static void parseOk(SettingsFixture *f, const char *const *argv, const char *const *env)
{
    if (!parse(f, argv, env))
        fail_msg("%s", f->err.message);
}

static void parseFails(SettingsFixture *f, const char *const *argv, const char *const *env, const char *message)
{
    assert_false(parse(f, argv, env));
    assert_err(&f->err, errInvalidArgument);
    assert_string_equal(f->err.message, message);
}

static void testDefaults(void **state)
{
    SettingsFixture *f = *state;
    parseOk(f, (const char *const[]){"postgres-operator", NULL}, ENV("HOME=/root", "PATH=/bin"));
    const Settings *s = &f->settings;
    assert_int_equal(s->action, settingsRun);
    assert_null(s->operatorNamespace);
    assert_int_equal(s->targetNamespaceCount, 0);
    assert_null(s->leaseName);
    assert_int_equal(s->workers, 2);
    assert_false(s->debug);
    assert_int_equal(s->imageCount, 0);
    assert_null(s->kubeconfig);
    assert_string_equal(s->healthAddress, ":8081");
    assert_int_equal(s->logFormat, logFormatText);
    assert_int_equal(s->logLevel, logLevelInfo);
    assert_false(s->debugEndpoints);
    assert_int_equal(s->warningCount, 0);
    parseOk(f, (const char *const[]){"postgres-operator", NULL}, NULL);
}

static void testEveryVariable(void **state)
{
    SettingsFixture *f = *state;
    parseOk(f, (const char *const[]){"postgres-operator", NULL},
            ENV("PGO_NAMESPACE=postgres-operator", "PGO_TARGET_NAMESPACE= single ",
                "PGO_TARGET_NAMESPACES=  a,b c;d\te|single,,a ", "PGO_CONTROLLER_LEASE_NAME=cpk-leader-election-lease",
                "PGO_WORKERS=+7", "CRUNCHY_DEBUG=TRUE", "RELATED_IMAGE_POSTGRES_17=localhost/postgres:17",
                "RELATED_IMAGE_PGBACKREST=localhost/pgbackrest:2.57", "RELATED_IMAGE_POSTGRES_17_GIS_3.4=localhost/gis",
                "RELATED_IMAGE_PGBOUNCER=", "RELATED_IMAGE_PGBACKREST=ignored/duplicate",
                "KUBECONFIG=/tmp/one:/tmp/two"));
    const Settings *s = &f->settings;
    assert_string_equal(s->operatorNamespace, "postgres-operator");
    assert_int_equal(s->targetNamespaceCount, 6);
    const char *expected[] = {"single", "a", "b", "c", "d", "e"};
    for (size_t nsIdx = 0; nsIdx < 6; nsIdx++)
        assert_string_equal(s->targetNamespaces[nsIdx], expected[nsIdx]);
    assert_string_equal(s->leaseName, "cpk-leader-election-lease");
    assert_int_equal(s->workers, 7);
    assert_true(s->debug);
    assert_int_equal(s->logLevel, logLevelDebug);
    assert_int_equal(s->imageCount, 3);
    assert_string_equal(s->images[0].name, "PGBACKREST");
    assert_string_equal(s->images[1].name, "POSTGRES_17");
    assert_string_equal(s->images[2].name, "POSTGRES_17_GIS_3.4");
    assert_string_equal(settingsImage(s, "PGBACKREST"), "localhost/pgbackrest:2.57");
    assert_string_equal(settingsImage(s, "POSTGRES_17_GIS_3.4"), "localhost/gis");
    assert_null(settingsImage(s, "PGBOUNCER"));
    assert_string_equal(s->kubeconfig, "/tmp/one");
    assert_int_equal(s->warningCount, 0);
}

static void testFlags(void **state)
{
    SettingsFixture *f = *state;
    parseOk(f,
            ARGV("--kubeconfig", "/etc/kube", "--context=dev", "--health-address=127.0.0.1:9000", "--log-format",
                 "json", "--log-level=warn", "--debug-endpoints"),
            ENV("CRUNCHY_DEBUG=true", "KUBECONFIG=/ignored"));
    const Settings *s = &f->settings;
    assert_string_equal(s->kubeconfig, "/etc/kube");
    assert_string_equal(s->context, "dev");
    assert_string_equal(s->healthAddress, "127.0.0.1:9000");
    assert_int_equal(s->logFormat, logFormatJson);
    assert_int_equal(s->logLevel, logLevelWarn); /* the flag wins over CRUNCHY_DEBUG */
    assert_true(s->debug);
    assert_true(s->debugEndpoints);
    parseOk(f, ARGV("--version"), NULL);
    assert_int_equal(f->settings.action, settingsShowVersion);
    parseOk(f, ARGV("--help"), NULL);
    assert_int_equal(f->settings.action, settingsShowHelp);
    assert_contains(settingsUsage(), "--health-address ADDR");
}

static void testBadFlags(void **state)
{
    SettingsFixture *f = *state;
    parseFails(f, ARGV("--log-format=yaml"), NULL, "--log-format: \"yaml\" is neither text nor json");
    parseFails(f, ARGV("--log-level", "loud"), NULL, "--log-level: \"loud\" is not debug, info, warn or error");
    parseFails(f, ARGV("--kubeconfig"), NULL, "flag --kubeconfig needs a value");
    parseFails(f, ARGV("--frobnicate"), NULL, "unknown flag \"--frobnicate\" (see --help)");
    parseFails(f, ARGV("stray"), NULL, "unexpected argument \"stray\" (see --help)");
    parseFails(f, ARGV("--version=2"), NULL, "flag --version takes no value");
    parseFails(f, ARGV("--health-address="), NULL, "--health-address: empty address");
}

static void testBadNamespaces(void **state)
{
    SettingsFixture *f = *state;
    parseFails(f, ARGV("--help"), ENV("PGO_NAMESPACE=Bad_NS"),
               "PGO_NAMESPACE: \"Bad_NS\" is not a valid namespace name");
    parseFails(
        f, ARGV("--help"), ENV("PGO_TARGET_NAMESPACE=-leading"),
        "PGO_TARGET_NAMESPACE: \"-leading\" is not a valid namespace name (lowercase letters, digits and '-', at "
        "most 63, starting and ending with a letter or digit)");
    parseFails(f, ARGV("--help"), ENV("PGO_TARGET_NAMESPACES=good,Upper"),
               "PGO_TARGET_NAMESPACES: \"Upper\" is not a valid namespace name (lowercase letters, digits and '-', at "
               "most 63, starting and ending with a letter or digit)");
    parseFails(f, ARGV("--help"), ENV("PGO_TARGET_NAMESPACES=caf\xc3\xa9"),
               "PGO_TARGET_NAMESPACES: \"caf\xc3\xa9\" is not a valid namespace name (lowercase letters, digits and "
               "'-', at most 63, starting and ending with a letter or digit)");
    parseFails(f, ARGV("--help"), ENV("PGO_TARGET_NAMESPACES=,;,"),
               "PGO_TARGET_NAMESPACES: \",;,\" names no namespace");
    char longName[100] = "PGO_TARGET_NAMESPACE=";
    memset(longName + strlen(longName), 'a', 64);
    parseFails(f, ARGV("--help"), ENV(longName),
               "PGO_TARGET_NAMESPACE: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is not a "
               "valid namespace name (lowercase letters, digits and '-', at most 63, starting and ending with a letter "
               "or digit)");
    parseOk(f, ARGV("--help"), ENV("PGO_TARGET_NAMESPACES=   ", "PGO_TARGET_NAMESPACE="));
    assert_int_equal(f->settings.targetNamespaceCount, 0);
}

static void testLeaseName(void **state)
{
    SettingsFixture *f = *state;
    parseOk(f, ARGV("--help"), ENV("PGO_CONTROLLER_LEASE_NAME=a.b-c.d9"));
    assert_string_equal(f->settings.leaseName, "a.b-c.d9");
    parseOk(f, ARGV("--help"), ENV("PGO_CONTROLLER_LEASE_NAME="));
    assert_null(f->settings.leaseName);
    const char *bad[] = {"Upper", "a..b", "-a", "a-", "a_b", ".a", "a."};
    for (size_t badIdx = 0; badIdx < sizeof(bad) / sizeof(bad[0]); badIdx++) {
        char variable[64];
        snprintf(variable, sizeof(variable), "PGO_CONTROLLER_LEASE_NAME=%s", bad[badIdx]);
        assert_false(parse(f, ARGV("--help"), ENV(variable)));
        assert_err(&f->err, errInvalidArgument);
        assert_contains(f->err.message, "PGO_CONTROLLER_LEASE_NAME: \"");
        assert_contains(f->err.message, "\" is not a valid Lease name (a DNS-1123 subdomain");
    }
    assert_true(settingsIsDns1123Subdomain("postgres-operator.crunchydata.com"));
    char tooLong[300];
    memset(tooLong, 'a', 254);
    tooLong[254] = '\0';
    for (int dot = 50; dot < 254; dot += 51)
        tooLong[dot] = '.';
    assert_false(settingsIsDns1123Subdomain(tooLong));
    tooLong[253] = '\0';
    assert_true(settingsIsDns1123Subdomain(tooLong));
    assert_false(settingsIsDns1123Subdomain(""));
    assert_true(settingsIsDns1123Label("a"));
    assert_false(settingsIsDns1123Label("a.b"));
}

static void testToleratedValuesWarn(void **state)
{
    SettingsFixture *f = *state;
    const char *bad[] = {"0", "-3", "two", " 4", "4 ", "99999999999999999999", "70000", "+"};
    for (size_t badIdx = 0; badIdx < sizeof(bad) / sizeof(bad[0]); badIdx++) {
        char variable[64];
        snprintf(variable, sizeof(variable), "PGO_WORKERS=%s", bad[badIdx]);
        parseOk(f, ARGV("--help"), ENV(variable));
        assert_int_equal(f->settings.workers, 2);
        assert_int_equal(f->settings.warningCount, 1);
        assert_contains(f->settings.warnings[0], "PGO_WORKERS must be a positive number (at most 65535), not \"");
    }
    parseOk(f, ARGV("--help"), ENV("CRUNCHY_DEBUG=yes"));
    assert_false(f->settings.debug);
    assert_int_equal(f->settings.warningCount, 1);
    assert_string_equal(f->settings.warnings[0],
                        "CRUNCHY_DEBUG is \"yes\", neither true nor false; debug logs stay off");
    parseOk(f, ARGV("--help"), ENV("CRUNCHY_DEBUG=False"));
    assert_false(f->settings.debug);
    assert_int_equal(f->settings.warningCount, 0);
}

static void testBadImages(void **state)
{
    SettingsFixture *f = *state;
    parseFails(f, ARGV("--help"), ENV("RELATED_IMAGE_=x"),
               "RELATED_IMAGE_: an image variable needs a name after the prefix");
    parseFails(f, ARGV("--help"), ENV("RELATED_IMAGE_PGADMIN=a b"),
               "RELATED_IMAGE_PGADMIN: image reference \"a b\" contains white space");
    char huge[1200] = "RELATED_IMAGE_X=";
    memset(huge + strlen(huge), 'i', 1100);
    parseFails(f, ARGV("--help"), ENV(huge), "RELATED_IMAGE_X: image reference longer than 1024 bytes");
}

static void testLogsEffectiveSettings(void **state)
{
    SettingsFixture *f = *state;
    parseOk(f, ARGV("--help"),
            ENV("PGO_TARGET_NAMESPACES=a,b", "RELATED_IMAGE_POSTGRES_17=img:17", "PGO_WORKERS=zero",
                "PGO_CONTROLLER_LEASE_NAME=lease"));
    char path[] = "/tmp/test-settings-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    Log log;
    logInit(&log, fd, logLevelDebug, logFormatText, clockSystem());
    settingsLog(&f->settings, &log);
    char text[4096] = {0};
    assert_true(pread(fd, text, sizeof(text) - 1, 0) > 0);
    close(fd);
    unlink(path);
    assert_contains(text, "msg=settings operatorNamespace=null targetNamespaces=a,b leaderElectionLease=lease "
                          "workers=2 debug=false healthAddress=:8081 logFormat=text kubeconfig=(in-cluster) "
                          "context=null debugEndpoints=false relatedImages=1 relatedImageNames=POSTGRES_17\n");
    assert_contains(text, "msg=\"related images\" images=\"POSTGRES_17=img:17\"\n");
    assert_contains(text, "level=warn msg=\"setting ignored\" problem=\"PGO_WORKERS must be a positive number");
}

static void testOutOfMemory(void **state)
{
    SettingsFixture *f = *state;
    for (uint64_t nth = 1;; nth++) {
        allocFailNth(nth);
        bool ok = parse(f, ARGV("--help"),
                        ENV("PGO_NAMESPACE=n", "PGO_TARGET_NAMESPACES=a,b", "PGO_CONTROLLER_LEASE_NAME=l",
                            "PGO_WORKERS=x", "RELATED_IMAGE_A=b", "KUBECONFIG=/k"));
        bool fired = allocFaultFired();
        allocFailNth(0);
        if (!fired) {
            assert_true(ok);
            break;
        }
        assert_false(ok);
        assert_err(&f->err, errOutOfMemory);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(testDefaults, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testEveryVariable, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testFlags, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testBadFlags, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testBadNamespaces, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testLeaseName, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testToleratedValuesWarn, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testBadImages, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testLogsEffectiveSettings, setUp, tearDown),
        cmocka_unit_test_setup_teardown(testOutOfMemory, setUp, tearDown),
    };
    return cmocka_run_group_tests_name("cmd/settings", tests, NULL, NULL);
}
