// Linux calls Glibc's Swift module does not import (they need _GNU_SOURCE).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>

/// renameat2(RENAME_NOREPLACE): rename unless the target exists (then -1 with EEXIST).
static inline int jobdrop_rename_noreplace(int fromdir, const char *from, int todir, const char *to) {
  return renameat2(fromdir, from, todir, to, RENAME_NOREPLACE);
}

/// sync_file_range(SYNC_FILE_RANGE_WRITE): start writing a range back to disk without waiting for it.
static inline int jobdrop_start_writeback(int fd, long long offset, long long length) {
  return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

/// fallocate(2) mode 0: allocate a file's blocks now (not at writeback); -1 where unsupported.
static inline int jobdrop_allocate(int fd, long long length) {
  return fallocate(fd, 0, 0, length);
}

/// O_PATH: a descriptor that pins a file without read permission (open(2)).
static const int jobdrop_O_PATH = O_PATH;

/// O_DIRECT: writes go to the device past the page cache, in aligned blocks (open(2), fcntl(F_SETFL)).
static const int jobdrop_O_DIRECT = O_DIRECT;

#include <sys/stat.h>

/// The alignment direct I/O on `fd`'s file needs, of memory and of file offsets and lengths (statx(2)
/// STATX_DIOALIGN, the larger of the two); 0 when its file system takes no direct I/O, -1 when the
/// kernel does not say (before Linux 6.1).
static inline int jobdrop_direct_io_alignment(int fd) {
  struct statx info;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &info) != 0 || !(info.stx_mask & STATX_DIOALIGN)) {
    return -1;
  }
  return (int)(info.stx_dio_mem_align > info.stx_dio_offset_align ? info.stx_dio_mem_align
                                                                  : info.stx_dio_offset_align);
}

/// syncfs(2): flush every change of the file system holding `fd` (one journal commit for many files).
static inline int jobdrop_syncfs(int fd) {
  return syncfs(fd);
}

#include <malloc.h>

/// malloc_trim(3): give the heap's free memory back to the system.
static inline int jobdrop_malloc_trim(void) {
  return malloc_trim(0);
}

#include <pthread.h>

/// pthread_setname_np(3) on the calling thread: the name `ps -L` and `top -H` show (at most 15 bytes).
static inline int jobdrop_name_thread(const char *name) {
  return pthread_setname_np(pthread_self(), name);
}

#include <poll.h>
#include <time.h>

/// ppoll(2) for one descriptor becoming readable, with a timeout in nanoseconds (poll(2) counts whole
/// milliseconds): 1 when readable, 0 on the timeout, -1 on an error.
static inline int jobdrop_wait_readable(int fd, long nanoseconds) {
  struct pollfd descriptor = {.fd = fd, .events = POLLIN, .revents = 0};
  struct timespec timeout = {.tv_sec = nanoseconds / 1000000000L, .tv_nsec = nanoseconds % 1000000000L};
  return ppoll(&descriptor, 1, &timeout, NULL);
}
