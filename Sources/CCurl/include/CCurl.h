// Thin C shim for the fleet's HTTP client: libcurl's easy interface, with its variadic
// curl_easy_setopt / curl_easy_getinfo spelled out per argument type (Swift cannot call variadics).
// No logic lives here; Fleet/HTTP/CurlTransfer.swift is the only Swift file that calls into it.
#pragma once
#include <curl/curl.h>
#include <stddef.h>

typedef size_t (*appliance_curl_data_callback)(char *buffer, size_t size, size_t count, void *context);

int appliance_curl_setopt_long(CURL *handle, CURLoption option, long value);
int appliance_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
int appliance_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
int appliance_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value);
int appliance_curl_setopt_callback(CURL *handle, CURLoption option, appliance_curl_data_callback value);
long appliance_curl_response_code(CURL *handle);
/// CURL_READFUNC_ABORT, which Swift cannot import (a cast in a macro).
size_t appliance_curl_read_abort(void);
