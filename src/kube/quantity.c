/* Kubernetes resource quantities.
 *
 * The number is read as a string of digits with the position of the decimal point, so "1.500" and "1.5" give the
 * same digits once trailing fractional zeros and leading zeros are dropped; only the remaining significant digits
 * have to fit in an int64. A binary suffix multiplies the mantissa by 1024^k (which cannot lose precision, being an
 * integer); a decimal suffix or exponent only moves the power of ten. The result is normalised (no trailing zeros in
 * the mantissa), so equal quantities have equal representations.
 *
 * Comparison first compares orders of magnitude (exponent plus number of digits), and only aligns the two exponents
 * when those are equal; their difference is then below 19 so both mantissas fit in 128 bits. */
#include "kube/quantity.h"

#include <string.h>

#define QUANTITY_MAX_DIGITS   18
#define QUANTITY_MAX_EXPONENT 1000

static const int64_t powersOfTen[QUANTITY_MAX_DIGITS + 1] = {
    1,
    10,
    100,
    1000,
    10000,
    100000,
    1000000,
    10000000,
    100000000,
    1000000000,
    10000000000,
    100000000000,
    1000000000000,
    10000000000000,
    100000000000000,
    1000000000000000,
    10000000000000000,
    100000000000000000,
    1000000000000000000,
};

typedef struct QuantitySuffix {
    const char *text;
    int32_t decimalExponent;
    unsigned binaryPower; /* multiply by 1024^binaryPower */
} QuantitySuffix;

static const QuantitySuffix quantitySuffixes[] = {
    {"Ki", 0, 1}, {"Mi", 0, 2}, {"Gi", 0, 3}, {"Ti", 0, 4}, {"Pi", 0, 5}, {"Ei", 0, 6}, {"n", -9, 0}, {"u", -6, 0},
    {"m", -3, 0}, {"", 0, 0},   {"k", 3, 0},  {"M", 6, 0},  {"G", 9, 0},  {"T", 12, 0}, {"P", 15, 0}, {"E", 18, 0},
};

static KubeQuantity quantityNormalise(int64_t mantissa, int32_t exponent)
{
    if (mantissa == 0)
        return (KubeQuantity){0, 0};
    while (mantissa % 10 == 0) {
        mantissa /= 10;
        exponent++;
    }
    return (KubeQuantity){mantissa, exponent};
}

/* Parses a decimal exponent after 'e' or 'E': an optionally signed integer, bounded. */
static bool quantityParseExponent(const char *text, const char *cursor, int32_t *exponent, Err *err)
{
    bool negative = *cursor == '-';
    if (*cursor == '-' || *cursor == '+')
        cursor++;
    if (*cursor < '0' || *cursor > '9')
        return errSet(err, errQuantity, "quantity \"%s\": malformed exponent", text);
    int32_t value = 0;
    for (; *cursor >= '0' && *cursor <= '9'; cursor++) {
        value = value * 10 + (*cursor - '0');
        if (value > QUANTITY_MAX_EXPONENT)
            return errSet(err, errQuantity, "quantity \"%s\": exponent out of range", text);
    }
    if (*cursor != '\0')
        return errSet(err, errQuantity, "quantity \"%s\": unexpected characters after the exponent", text);
    *exponent = negative ? -value : value;
    return true;
}

bool kubeQuantityParse(const char *text, KubeQuantity *out, Err *err)
{
    const char *cursor = text;
    bool negative = *cursor == '-';
    if (*cursor == '-' || *cursor == '+')
        cursor++;

    /* The digits, split by an optional decimal point. */
    const char *intStart = cursor;
    size_t intLen = strspn(intStart, "0123456789");
    const char *fracStart = intStart + intLen;
    size_t fracLen = 0;
    if (*fracStart == '.') {
        fracStart++;
        fracLen = strspn(fracStart, "0123456789");
    }
    if (intLen + fracLen == 0)
        return errSet(err, errQuantity, "quantity \"%s\": expected a number", text);
    cursor = fracStart + fracLen;

    /* Significant digits: drop leading zeros (of the whole) and trailing zeros (of the fraction). */
    while (fracLen > 0 && fracStart[fracLen - 1] == '0')
        fracLen--;
    int64_t mantissa = 0;
    size_t significant = 0;
    for (size_t digitIdx = 0; digitIdx < intLen + fracLen; digitIdx++) {
        char digit = digitIdx < intLen ? intStart[digitIdx] : fracStart[digitIdx - intLen];
        if (significant == 0 && digit == '0')
            continue;
        if (++significant > QUANTITY_MAX_DIGITS)
            return errSet(err, errQuantity, "quantity \"%s\": more than %d significant digits", text,
                          QUANTITY_MAX_DIGITS);
        mantissa = mantissa * 10 + (digit - '0');
    }
    int32_t exponent = -(int32_t)fracLen;

    /* The suffix. 'e' or 'E' followed by a (signed) number is an exponent; "E" alone is exa, "Ei" exbi. */
    if ((*cursor == 'e' || *cursor == 'E') && cursor[1] != '\0' && strchr("+-0123456789", cursor[1]) != NULL) {
        int32_t decimalExponent = 0;
        if (!quantityParseExponent(text, cursor + 1, &decimalExponent, err))
            return false;
        exponent += decimalExponent;
    } else {
        const QuantitySuffix *suffix = NULL;
        for (size_t suffixIdx = 0; suffixIdx < sizeof(quantitySuffixes) / sizeof(quantitySuffixes[0]); suffixIdx++) {
            if (strcmp(cursor, quantitySuffixes[suffixIdx].text) == 0)
                suffix = &quantitySuffixes[suffixIdx];
        }
        if (suffix == NULL)
            return errSet(err, errQuantity, "quantity \"%s\": unknown suffix \"%s\"", text, cursor);
        exponent += suffix->decimalExponent;
        for (unsigned power = 0; power < suffix->binaryPower; power++) {
            if (__builtin_mul_overflow(mantissa, 1024, &mantissa))
                return errSet(err, errQuantity, "quantity \"%s\": out of range", text);
        }
    }
    *out = quantityNormalise(negative ? -mantissa : mantissa, exponent);
    return true;
}

bool kubeQuantityScaled(KubeQuantity quantity, int32_t scale, int64_t *out, Err *err)
{
    int64_t shift = (int64_t)quantity.exponent - scale;
    if (quantity.mantissa == 0) {
        *out = 0;
        return true;
    }
    if (shift >= 0) {
        if (shift > QUANTITY_MAX_DIGITS || __builtin_mul_overflow(quantity.mantissa, powersOfTen[shift], out))
            return errSet(err, errQuantity, "quantity does not fit in 64 bits at scale 10^%d", scale);
        return true;
    }
    if (-shift > QUANTITY_MAX_DIGITS) {
        /* |value| < 1 unit: rounds up to 1 when positive, to 0 when negative. */
        *out = quantity.mantissa > 0 ? 1 : 0;
        return true;
    }
    int64_t divisor = powersOfTen[-shift];
    int64_t quotient = quantity.mantissa / divisor;
    if (quantity.mantissa % divisor != 0 && quantity.mantissa > 0)
        quotient++;
    *out = quotient;
    return true;
}

static int64_t quantityDigits(int64_t mantissa)
{
    int64_t digits = 1;
    while (digits < QUANTITY_MAX_DIGITS + 1 && (mantissa >= powersOfTen[digits] || mantissa <= -powersOfTen[digits]))
        digits++;
    return digits;
}

int kubeQuantityCompare(KubeQuantity a, KubeQuantity b)
{
    int signA = (a.mantissa > 0) - (a.mantissa < 0);
    int signB = (b.mantissa > 0) - (b.mantissa < 0);
    if (signA != signB || signA == 0)
        return signA - signB;

    int64_t orderA = a.exponent + quantityDigits(a.mantissa);
    int64_t orderB = b.exponent + quantityDigits(b.mantissa);
    if (orderA != orderB)
        return orderA > orderB ? signA : -signA;

    /* Same order of magnitude: the exponents differ by fewer than 19, so the aligned values fit in 128 bits. */
    __int128 alignedA = a.mantissa;
    __int128 alignedB = b.mantissa;
    for (int32_t exponent = a.exponent; exponent > b.exponent; exponent--)
        alignedA *= 10;
    for (int32_t exponent = b.exponent; exponent > a.exponent; exponent--)
        alignedB *= 10;
    return (alignedA > alignedB) - (alignedA < alignedB);
}
