#include "config.h"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ri-cli.h"

/* An in-process run builds its heap a page at a time: a warm scan of
 * 1,000 x 3 touched 3,200 fresh pages, and each first touch is a page
 * fault, which on this project's (virtualised) machines cost 12-20% of
 * the scan's CPU time. Transparent huge pages fault in 2 MiB at once, but
 * where the kernel gives them only to memory that asks (the "madvise"
 * setting, common on servers), glibc asks only when told to by
 * GLIBC_TUNABLES before the process starts.
 *
 * So the heap is grown once by RESERVE (address space, not memory: a page
 * costs nothing until it is touched), the whole of it is marked for huge
 * pages, and glibc is told not to give it back, which would drop the mark
 * (a short-lived process loses nothing by keeping its heap; the mapping
 * threshold stays at its default of 128 KiB, only no longer adapts).
 * Peak RSS grows by up to one huge page; what a run touches is as before.
 * Nothing happens when malloc is not glibc's heap (sanitizers, valgrind) or
 * the reserve cannot be had: the run is only slower. */

#define RESERVE ((gsize) 64 * 1024 * 1024)
#define DEFAULT_MMAP_THRESHOLD (128 * 1024)

void
ri_cli_prefer_huge_pages (void)
{
#if defined(__GLIBC__) && defined(MADV_HUGEPAGE)
  guintptr before, after, start;
  void *block;

  before = (guintptr) sbrk (0);
  /* From the heap, not a mapping of its own. */
  if (!mallopt (M_MMAP_THRESHOLD, (int) (RESERVE + DEFAULT_MMAP_THRESHOLD)))
    return;
  block = malloc (RESERVE);
  mallopt (M_MMAP_THRESHOLD, DEFAULT_MMAP_THRESHOLD);
  after = (guintptr) sbrk (0);
  start = (guintptr) block & ~(guintptr) (sysconf (_SC_PAGESIZE) - 1);
  /* Unless it came from a mapping of its own, after all: then glibc
   * trims as it always does. */
  if (block != NULL && before != (guintptr) -1 && after != (guintptr) -1 &&
      (guintptr) block + RESERVE > before && (guintptr) block + RESERVE <= after &&
      madvise ((void *) start, after - start, MADV_HUGEPAGE) == 0)
    mallopt (M_TRIM_THRESHOLD, (int) (2 * RESERVE));
  free (block);
#endif
}
