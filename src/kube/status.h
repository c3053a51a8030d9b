/* Kubernetes API errors: turning a failed response, or a watch ERROR event, into an Err.
 *
 * The API server answers errors with a `Status` object ({"kind":"Status","code":409,"reason":"AlreadyExists",
 * "message":"..."}). The code in the Err comes from the reason when there is one (it is more precise: 409 is either
 * AlreadyExists or Conflict) and from the HTTP status otherwise; the message is the server's, which tells the user
 * what to change. Proxies and load balancers answer with other bodies: those give a message with the status and a
 * short, sanitised excerpt of the body. */
#ifndef KUBE_STATUS_H
#define KUBE_STATUS_H

#include "common/error.h"

#include <jansson.h>
#include <stddef.h>

/* Fills err from a non-2xx response (body may be NULL). Always returns false. */
bool kubeStatusFromResponse(long httpStatus, const char *body, size_t bodyLen, Err *err);

/* Fills err from a decoded Status object; httpStatus is used when the object carries no code. Returns false. */
bool kubeStatusFromObject(const json_t *status, long httpStatus, Err *err);

/* The error code for an HTTP status and Status.reason (reason may be NULL or empty). */
ErrCode kubeStatusCode(long httpStatus, const char *reason);

#endif
