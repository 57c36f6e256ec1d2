/* The static jobcell-init program, embedded so the launcher can run it from a memfd. */
        .section .rodata
        .global jobcell_init_blob
        .global jobcell_init_blob_end
        .balign 16
jobcell_init_blob:
        .incbin JOBCELL_INIT_PATH
jobcell_init_blob_end:
        .section .note.GNU-stack,"",@progbits
