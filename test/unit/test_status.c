/* Unit tests: kube/status. */
#include "harness/harness.h"

#include "common/alloc.h"
#include "kube/status.h"

#include <string.h>

static void testStatusBody(void **state)
{
    (void)state;
    static const char body[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                               "\"message\":\"pods \\\"hippo-0\\\" already exists\",\"reason\":\"AlreadyExists\","
                               "\"code\":409}";
    Err err;
    assert_false(kubeStatusFromResponse(409, body, strlen(body), &err));
    assert_err(&err, errKubeAlreadyExists);
    assert_int_equal(err.httpStatus, 409);
    assert_string_equal(err.reason, "AlreadyExists");
    assert_string_equal(err.message, "pods \"hippo-0\" already exists");

    static const char conflict[] = "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"code\":409,\"message\":\"changed\"}";
    assert_false(kubeStatusFromResponse(409, conflict, strlen(conflict), &err));
    assert_err(&err, errKubeConflict);
    assert_true(errCodeRetryable(err.code));
}

static void testReasonsAndCodes(void **state)
{
    (void)state;
    static const struct {
        long status;
        const char *reason;
        ErrCode code;
    } cases[] = {
        {404, "NotFound", errKubeNotFound},
        {410, "Expired", errKubeGone},
        {410, "Gone", errKubeGone},
        {422, "Invalid", errKubeInvalid},
        {403, "Forbidden", errKubeForbidden},
        {401, "Unauthorized", errKubeUnauthorized},
        {400, "BadRequest", errKubeBadRequest},
        {405, "MethodNotAllowed", errKubeMethodNotAllowed},
        {429, "TooManyRequests", errKubeTooManyRequests},
        {504, "Timeout", errKubeServer},
        {500, "InternalError", errKubeServer},
        {503, "ServiceUnavailable", errKubeServer},
        {400, NULL, errKubeBadRequest},
        {401, NULL, errKubeUnauthorized},
        {403, "", errKubeForbidden},
        {404, NULL, errKubeNotFound},
        {405, NULL, errKubeMethodNotAllowed},
        {409, NULL, errKubeConflict},
        {410, NULL, errKubeGone},
        {422, NULL, errKubeInvalid},
        {429, NULL, errKubeTooManyRequests},
        {500, NULL, errKubeServer},
        {599, NULL, errKubeServer},
        {302, NULL, errKubeUnexpected},
        {600, NULL, errKubeUnexpected},
        {418, "Teapot", errKubeUnexpected},
        {504, "ServerTimeout", errKubeServer},
    };
    for (size_t caseIdx = 0; caseIdx < sizeof(cases) / sizeof(cases[0]); caseIdx++) {
        ErrCode code = kubeStatusCode(cases[caseIdx].status, cases[caseIdx].reason);
        if (code != cases[caseIdx].code)
            fail_msg("%ld %s: %s", cases[caseIdx].status, cases[caseIdx].reason, errCodeName(code));
    }
}

static void testOtherBodies(void **state)
{
    (void)state;
    Err err;
    static const char html[] = "<html>\n<body>502 Bad Gateway</body>\n</html>";
    assert_false(kubeStatusFromResponse(502, html, strlen(html), &err));
    assert_err(&err, errKubeServer);
    assert_int_equal(err.httpStatus, 502);
    assert_string_equal(err.message, "api server answered HTTP 502: <html> <body>502 Bad Gateway</body> </html>");

    assert_false(kubeStatusFromResponse(503, NULL, 0, &err));
    assert_string_equal(err.message, "api server answered HTTP 503");
    assert_string_equal(err.reason, "");

    char big[1000];
    memset(big, 'x', sizeof(big));
    assert_false(kubeStatusFromResponse(500, big, sizeof(big), &err));
    assert_true(strlen(err.message) < 200);

    static const char notStatus[] = "{\"kind\":\"Pod\"}";
    assert_false(kubeStatusFromResponse(404, notStatus, strlen(notStatus), &err));
    assert_err(&err, errKubeNotFound);
    assert_contains(err.message, "HTTP 404");
    static const char array[] = "[1]";
    assert_false(kubeStatusFromResponse(400, array, strlen(array), &err));
    assert_err(&err, errKubeBadRequest);

    assert_false(kubeStatusFromResponse(500, NULL, 0, NULL));
}

static void testStatusObject(void **state)
{
    (void)state;
    Err err;
    json_t *status = json_pack("{s:s, s:i, s:s}", "reason", "Expired", "code", 410, "message", "too old resource");
    assert_false(kubeStatusFromObject(status, 500, &err));
    assert_err(&err, errKubeGone);
    assert_int_equal(err.httpStatus, 410);
    assert_string_equal(err.message, "too old resource");
    json_decref(status);

    /* Missing or mistyped fields fall back. */
    status = json_pack("{s:s, s:i}", "code", "410", "reason", 7);
    assert_false(kubeStatusFromObject(status, 500, &err));
    assert_err(&err, errKubeServer);
    assert_int_equal(err.httpStatus, 500);
    assert_string_equal(err.message, "api server reported a failure");
    json_decref(status);

    status = json_pack("{s:s, s:i}", "reason", "NotFound", "message", 3);
    assert_false(kubeStatusFromObject(status, 404, &err));
    assert_string_equal(err.message, "NotFound");
    assert_false(kubeStatusFromObject(status, 404, NULL));
    json_decref(status);

    /* A body whose code disagrees with the transport: the transport's status is kept. */
    static const char body[] = "{\"kind\":\"Status\",\"code\":200,\"reason\":\"NotFound\"}";
    assert_false(kubeStatusFromResponse(404, body, strlen(body), &err));
    assert_int_equal(err.httpStatus, 404);
    assert_err(&err, errKubeNotFound);
}

static void testOutOfMemoryStillReports(void **state)
{
    (void)state;
    allocUseForJansson();
    static const char body[] = "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404,\"message\":\"gone\"}";
    for (uint64_t nth = 1; nth < 50; nth++) {
        Err err;
        allocFailNth(nth);
        assert_false(kubeStatusFromResponse(404, body, strlen(body), &err));
        bool fired = allocFaultFired();
        allocFailNth(0);
        assert_err(&err, errKubeNotFound);
        assert_int_equal(err.httpStatus, 404);
        if (!fired)
            return;
    }
    fail_msg("sweep did not end");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testStatusBody),
        cmocka_unit_test(testReasonsAndCodes),
        cmocka_unit_test(testOtherBodies),
        cmocka_unit_test(testStatusObject),
        cmocka_unit_test(testOutOfMemoryStillReports),
    };
    return cmocka_run_group_tests_name("kube/status", tests, NULL, NULL);
}
