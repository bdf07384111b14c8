#ifndef CLINUX_SHIM_H
#define CLINUX_SHIM_H
/* Linux headers the Glibc module does not export. No logic here. */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <malloc.h>
#endif
