#include <sys/types.h>
#include <curl/curl.h>

// curl_easy_setopt, curl_easy_getinfo and curl_global_init's flags are C-variadic or macros, which Swift
// cannot call or import: one typed wrapper per argument kind.

typedef size_t (*ledger_curl_write_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode ledger_curl_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT); }

static inline CURLcode ledger_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ledger_curl_easy_setopt_pointer(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ledger_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ledger_curl_easy_setopt_write_callback(CURL *handle, CURLoption option, ledger_curl_write_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLMcode ledger_curl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

static inline CURLcode ledger_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
