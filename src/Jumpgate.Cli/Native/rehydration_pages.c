/*
 * Linked into the Native AOT `jumpgate` only (Jumpgate.Cli.csproj compiles it with the C compiler
 * that links the binary).
 *
 * Before Main, the runtime rehydrates about 5 MB of type data (the one binary carries the
 * gateway, the agent and the CLI) into the zero-filled tail of the program's writable segment.
 * Touched one 4 KiB page at a time that is about 1,200 page faults, and on the virtual machines
 * we measured on a fault is expensive: they were a quarter of `jumpgate --version`. So before the
 * runtime starts, this asks for transparent huge pages on that range and has the kernel fill it
 * in one call (MADV_POPULATE_WRITE, Linux 5.14). Page faults per start went from 1,560 to 350;
 * in the benchmark, `jumpgate proxy` start-up from 104 to 69 ms and `jumpgate --version` from 54 to
 * 29 ms (medians, both binaries in the same run; docs/decisions.md has the figures).
 *
 * Both calls are advice: where THP is off the range is filled with 4 KiB pages (still in one
 * call); before Linux 5.14 the second call fails and the pages are faulted in one by one, as
 * before. The memory is the same (maximum RSS of --version 15.8 MB either way): rehydration
 * writes all of it anyway.
 */
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static int prepare_zero_filled_tail(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < info->dlpi_phnum; i++)
    {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type != PT_LOAD || !(segment->p_flags & PF_W) || segment->p_memsz <= segment->p_filesz)
        {
            continue;
        }
        /* The part past the file's bytes is anonymous zero-filled memory (.bss and .hydrated). */
        uintptr_t start = (info->dlpi_addr + segment->p_vaddr + segment->p_filesz + page - 1) & ~(page - 1);
        uintptr_t end = (info->dlpi_addr + segment->p_vaddr + segment->p_memsz + page - 1) & ~(page - 1);
        if (end > start)
        {
            (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
            (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
        }
    }
    return 1; /* the first object reported is the program itself; stop there */
}

/* A constructor runs before main(), so before the runtime touches these pages. */
__attribute__((constructor)) static void prepare_rehydration_pages(void)
{
    dl_iterate_phdr(prepare_zero_filled_tail, NULL);
}
