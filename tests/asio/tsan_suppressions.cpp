// TSan in this program only. libstdc++ counts std::exception_ptr references inside its own,
// uninstrumented, shared library: when a remote error is read on one thread (a coroutine on an
// io_context, a std::future's get) while netref's reader thread drops the last copy (in the
// settled call), TSan cannot see that the atomic count orders the last release after every
// use, and reports the exception's destructor as racing with the earlier reads. Only reports
// whose stack holds that destructor call (libstdc++'s __dest_thunk) are suppressed.
#if defined(__SANITIZE_THREAD__)
#define NETREF_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NETREF_TEST_TSAN 1
#endif
#endif

#ifdef NETREF_TEST_TSAN
extern "C" const char* __tsan_default_suppressions() { return "race:std::__exception_ptr::__dest_thunk\n"; }
#endif
