#include "CCurl.h"

int appliance_curl_setopt_long(CURL *handle, CURLoption option, long value) { return curl_easy_setopt(handle, option, value); }
int appliance_curl_setopt_string(CURL *handle, CURLoption option, const char *value) { return curl_easy_setopt(handle, option, value); }
int appliance_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) { return curl_easy_setopt(handle, option, value); }
int appliance_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) { return curl_easy_setopt(handle, option, value); }
int appliance_curl_setopt_callback(CURL *handle, CURLoption option, appliance_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}
long appliance_curl_response_code(CURL *handle) {
    long code = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &code);
    return code;
}
size_t appliance_curl_read_abort(void) { return CURL_READFUNC_ABORT; }
