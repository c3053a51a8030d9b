/* Kubernetes label selectors.
 *
 * A small hand-written scanner: the grammar has a handful of tokens (identifiers, the operators, parentheses and
 * commas) and whitespace may separate any of them. The parser reads one requirement at a time:
 *
 *     requirement := '!' key | key [ ('=' | '==' | '!=') value | ('in' | 'notin') '(' value {',' value} ')' ]
 *
 * (a value may be empty after =, == and !=, but not inside a set: "in ()" and "in (a,)" are refused)
 * and requirements are separated by commas. An identifier is any run of the characters labels may contain
 * (letters, digits, '-', '_', '.', '/'), validated afterwards as a key or a value, so error messages can say which
 * rule was broken. "in" and "notin" are keywords only after a key, so a label may still be called "in".
 *
 * Matching follows the API server: != and notin match objects that lack the label. */
#include "kube/selector.h"

#include <string.h>

#define LABEL_NAME_MAX   63
#define LABEL_PREFIX_MAX 253

typedef struct SelectorScanner {
    const char *text;
    const char *cursor;
    MemCtx *ctx;
    Err *err;
} SelectorScanner;

static bool labelIsAlnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* [A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])?, at most 63 characters. */
static bool labelNameValid(const char *name, size_t len)
{
    if (len == 0 || len > LABEL_NAME_MAX || !labelIsAlnum(name[0]) || !labelIsAlnum(name[len - 1]))
        return false;
    for (size_t charIdx = 0; charIdx < len; charIdx++) {
        char c = name[charIdx];
        if (!labelIsAlnum(c) && c != '-' && c != '_' && c != '.')
            return false;
    }
    return true;
}

/* A DNS-1123 subdomain: lowercase alphanumeric labels joined by '.', each label possibly with inner '-'. */
static bool dnsSubdomainValid(const char *name, size_t len)
{
    if (len == 0 || len > LABEL_PREFIX_MAX)
        return false;
    size_t labelStart = 0;
    for (size_t charIdx = 0; charIdx <= len; charIdx++) {
        if (charIdx < len && name[charIdx] != '.')
            continue;
        size_t labelLen = charIdx - labelStart;
        const char *label = name + labelStart;
        if (labelLen == 0 || labelLen > LABEL_NAME_MAX || label[0] == '-' || label[labelLen - 1] == '-')
            return false;
        for (size_t labelIdx = 0; labelIdx < labelLen; labelIdx++) {
            char c = label[labelIdx];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
                return false;
        }
        labelStart = charIdx + 1;
    }
    return true;
}

bool kubeLabelKeyValid(const char *key, size_t len)
{
    const char *slash = memchr(key, '/', len);
    if (slash == NULL)
        return labelNameValid(key, len);
    size_t prefixLen = (size_t)(slash - key);
    return dnsSubdomainValid(key, prefixLen) && labelNameValid(slash + 1, len - prefixLen - 1);
}

bool kubeLabelValueValid(const char *value, size_t len)
{
    return len == 0 || labelNameValid(value, len);
}

static void selectorSkipSpace(SelectorScanner *scanner)
{
    while (*scanner->cursor == ' ' || *scanner->cursor == '\t')
        scanner->cursor++;
}

static bool selectorFail(SelectorScanner *scanner, const char *what)
{
    return errSet(scanner->err, errSelector, "label selector \"%s\": %s at offset %zu", scanner->text, what,
                  (size_t)(scanner->cursor - scanner->text));
}

static bool labelIsIdentifierChar(char c)
{
    return labelIsAlnum(c) || c == '-' || c == '_' || c == '.' || c == '/';
}

/* Length of the identifier at the cursor (0 if none). */
static size_t selectorIdentifierLength(const SelectorScanner *scanner)
{
    size_t len = 0;
    while (labelIsIdentifierChar(scanner->cursor[len]))
        len++;
    return len;
}

/* Reads a key or (if asValue) a value at the cursor into a new string of ctx. */
static bool selectorReadIdentifier(SelectorScanner *scanner, bool asValue, const char **out)
{
    selectorSkipSpace(scanner);
    size_t len = selectorIdentifierLength(scanner);
    if (asValue ? !kubeLabelValueValid(scanner->cursor, len) : !kubeLabelKeyValid(scanner->cursor, len))
        return selectorFail(scanner, asValue ? "invalid label value" : "invalid label key");
    char *copy = memCtxStrNDup(scanner->ctx, scanner->cursor, len);
    if (copy == NULL)
        return errSet(scanner->err, errOutOfMemory, "out of memory parsing a label selector");
    scanner->cursor += len;
    *out = copy;
    return true;
}

static bool selectorAddValue(SelectorScanner *scanner, KubeRequirement *requirement, const char *value)
{
    const char **values =
        memCtxResize(scanner->ctx, requirement->values, (requirement->valueCount + 1) * sizeof(*values));
    if (values == NULL)
        return errSet(scanner->err, errOutOfMemory, "out of memory parsing a label selector");
    values[requirement->valueCount++] = value;
    requirement->values = values;
    return true;
}

static bool selectorReadValue(SelectorScanner *scanner, KubeRequirement *requirement)
{
    const char *value;
    return selectorReadIdentifier(scanner, true, &value) && selectorAddValue(scanner, requirement, value);
}

/* '(' value {',' value} ')', values not empty */
static bool selectorReadSet(SelectorScanner *scanner, KubeRequirement *requirement)
{
    selectorSkipSpace(scanner);
    if (*scanner->cursor != '(')
        return selectorFail(scanner, "expected '('");
    scanner->cursor++;
    for (;;) {
        selectorSkipSpace(scanner);
        if (selectorIdentifierLength(scanner) == 0)
            return selectorFail(scanner, "expected a value");
        if (!selectorReadValue(scanner, requirement))
            return false;
        selectorSkipSpace(scanner);
        if (*scanner->cursor == ')')
            break;
        if (*scanner->cursor != ',')
            return selectorFail(scanner, "expected ',' or ')'");
        scanner->cursor++;
    }
    scanner->cursor++;
    return true;
}

/* Whether the word at the cursor is keyword, followed by something that is not part of an identifier. */
static bool selectorAtKeyword(const SelectorScanner *scanner, const char *keyword)
{
    size_t len = strlen(keyword);
    return strncmp(scanner->cursor, keyword, len) == 0 && selectorIdentifierLength(scanner) == len;
}

static bool selectorReadRequirement(SelectorScanner *scanner, KubeRequirement *requirement)
{
    *requirement = (KubeRequirement){0};
    selectorSkipSpace(scanner);
    if (*scanner->cursor == '!') {
        scanner->cursor++;
        requirement->op = kubeSelectorDoesNotExist;
        return selectorReadIdentifier(scanner, false, &requirement->key);
    }
    if (!selectorReadIdentifier(scanner, false, &requirement->key))
        return false;
    selectorSkipSpace(scanner);

    const char *op = scanner->cursor;
    if (*op == '\0' || *op == ',') {
        requirement->op = kubeSelectorExists;
        return true;
    }
    if (op[0] == '!' && op[1] == '=') {
        scanner->cursor += 2;
        requirement->op = kubeSelectorNotEquals;
        return selectorReadValue(scanner, requirement);
    }
    if (op[0] == '=') {
        scanner->cursor += op[1] == '=' ? 2 : 1;
        requirement->op = kubeSelectorEquals;
        return selectorReadValue(scanner, requirement);
    }
    if (selectorAtKeyword(scanner, "in")) {
        scanner->cursor += 2;
        requirement->op = kubeSelectorIn;
        return selectorReadSet(scanner, requirement);
    }
    if (selectorAtKeyword(scanner, "notin")) {
        scanner->cursor += 5;
        requirement->op = kubeSelectorNotIn;
        return selectorReadSet(scanner, requirement);
    }
    return selectorFail(scanner, "expected an operator");
}

bool kubeSelectorParse(MemCtx *ctx, const char *text, KubeSelector **out, Err *err)
{
    if (strnlen(text, KUBE_SELECTOR_MAX_LENGTH + 1) > KUBE_SELECTOR_MAX_LENGTH)
        return errSet(err, errSelector, "label selector longer than %d bytes", KUBE_SELECTOR_MAX_LENGTH);
    KubeSelector *selector = memCtxAlloc(ctx, sizeof(*selector));
    if (selector == NULL)
        return errSet(err, errOutOfMemory, "out of memory parsing a label selector");

    SelectorScanner scanner = {.text = text, .cursor = text, .ctx = ctx, .err = err};
    selectorSkipSpace(&scanner);
    while (*scanner.cursor != '\0') {
        KubeRequirement *requirements =
            memCtxResize(ctx, selector->requirements, (selector->count + 1) * sizeof(*requirements));
        if (requirements == NULL)
            return errSet(err, errOutOfMemory, "out of memory parsing a label selector");
        selector->requirements = requirements;
        if (!selectorReadRequirement(&scanner, &requirements[selector->count]))
            return false;
        selector->count++;
        selectorSkipSpace(&scanner);
        if (*scanner.cursor == ',') {
            scanner.cursor++;
            selectorSkipSpace(&scanner);
            if (*scanner.cursor == '\0')
                return selectorFail(&scanner, "expected a requirement after ','");
        } else if (*scanner.cursor != '\0') {
            return selectorFail(&scanner, "expected ','");
        }
    }
    *out = selector;
    return true;
}

static bool requirementHasValue(const KubeRequirement *requirement, const char *value)
{
    for (size_t valueIdx = 0; valueIdx < requirement->valueCount; valueIdx++) {
        if (strcmp(requirement->values[valueIdx], value) == 0)
            return true;
    }
    return false;
}

static bool requirementMatches(const KubeRequirement *requirement, const json_t *labels)
{
    const char *value = json_string_value(labels != NULL ? json_object_get(labels, requirement->key) : NULL);
    switch (requirement->op) {
        case kubeSelectorEquals:
        case kubeSelectorIn:
            return value != NULL && requirementHasValue(requirement, value);
        case kubeSelectorNotEquals:
        case kubeSelectorNotIn:
            return value == NULL || !requirementHasValue(requirement, value);
        case kubeSelectorExists:
            return value != NULL;
        default:
            return value == NULL;
    }
}

bool kubeSelectorMatches(const KubeSelector *selector, const json_t *labels)
{
    for (size_t requirementIdx = 0; requirementIdx < selector->count; requirementIdx++) {
        if (!requirementMatches(&selector->requirements[requirementIdx], labels))
            return false;
    }
    return true;
}
