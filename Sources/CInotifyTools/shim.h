// inotifytools.h only forward-declares struct inotify_event: include the kernel header first.
#include <sys/inotify.h>
#include <inotifytools/inotifytools.h>
