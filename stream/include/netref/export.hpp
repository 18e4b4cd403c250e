#pragma once
/// NETREF_API marks what a shared netref exports: the classes and functions of the layers'
/// public headers. A shared build compiles everything else hidden (-fvisibility=hidden), so
/// internals (src/, detail namespaces) are not part of the ABI. In a static build, and for a
/// program that uses netref, the mark changes nothing.

#if defined(__GNUC__) || defined(__clang__)
#define NETREF_API __attribute__((visibility("default")))
#else
#define NETREF_API
#endif
