/* Kubernetes resource quantities: "500m", "1Gi", "2e3", "1.5", "100M".
 *
 * Grammar (k8s.io/apimachinery/pkg/api/resource): an optionally signed decimal number, then a suffix that is a
 * binary SI multiplier (Ki Mi Gi Ti Pi Ei), a decimal SI multiplier (n u m "" k M G T P E) or a decimal exponent
 * (e3, E-2). A parsed quantity is held exactly as mantissa * 10^exponent; up to 18 significant digits are kept,
 * more is errQuantity rather than a silent rounding. */
#ifndef KUBE_QUANTITY_H
#define KUBE_QUANTITY_H

#include "common/error.h"

#include <stdint.h>

typedef struct KubeQuantity {
    int64_t mantissa; /* no trailing decimal zeros, unless 0 */
    int32_t exponent; /* power of ten; 0 when mantissa is 0 */
} KubeQuantity;

bool kubeQuantityParse(const char *text, KubeQuantity *out, Err *err) MUST_CHECK;

/* The quantity in units of 10^scale, rounded up (towards +infinity) as Kubernetes' ScaledValue does:
 * scale 0 gives bytes or cores, -3 milli-units. errQuantity when the result does not fit in int64. */
bool kubeQuantityScaled(KubeQuantity quantity, int32_t scale, int64_t *out, Err *err) MUST_CHECK;

/* <0, 0 or >0 as a is less than, equal to or greater than b. */
int kubeQuantityCompare(KubeQuantity a, KubeQuantity b);

#endif
