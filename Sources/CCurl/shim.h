#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed wrapper each.
static inline CURLcode jobdrop_curl_set_long(CURL *handle, CURLoption option, long value) {
  return curl_easy_setopt(handle, option, value);
}
static inline CURLcode jobdrop_curl_set_pointer(CURL *handle, CURLoption option, const void *value) {
  return curl_easy_setopt(handle, option, value);
}
static inline CURLcode jobdrop_curl_set_size(CURL *handle, CURLoption option, curl_off_t value) {
  return curl_easy_setopt(handle, option, value);
}
typedef size_t (*jobdrop_curl_write_callback)(char *data, size_t size, size_t count, void *context);
static inline CURLcode jobdrop_curl_set_write(CURL *handle, jobdrop_curl_write_callback callback) {
  return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}
static inline CURLcode jobdrop_curl_response_code(CURL *handle, long *code) {
  return curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, code);
}
typedef size_t (*jobdrop_curl_read_callback)(char *buffer, size_t size, size_t count, void *context);
static inline CURLcode jobdrop_curl_set_read(CURL *handle, jobdrop_curl_read_callback callback) {
  return curl_easy_setopt(handle, CURLOPT_READFUNCTION, callback);
}
typedef int (*jobdrop_curl_seek_callback)(void *context, curl_off_t offset, int origin);
static inline CURLcode jobdrop_curl_set_seek(CURL *handle, jobdrop_curl_seek_callback callback) {
  return curl_easy_setopt(handle, CURLOPT_SEEKFUNCTION, callback);
}
/// The value of the last response's header `name` (valid until the next transfer on the handle), or
/// NULL when it had none.
static inline const char *jobdrop_curl_header(CURL *handle, const char *name) {
  struct curl_header *header = NULL;
  if (curl_easy_header(handle, name, 0, CURLH_HEADER, -1, &header) != CURLHE_OK || header == NULL) return NULL;
  return header->value;
}
