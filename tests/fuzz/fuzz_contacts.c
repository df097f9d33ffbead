/* fuzz_contacts.c -- libFuzzer target: the input is a contacts table, read
 * both as a BIDS electrodes.tsv and as a TVB sensors text file (the loader
 * picks the format by the name). */
#define _GNU_SOURCE
#include <math.h>
#include <string.h>

#include "fuzz_tmpfile.h"
#include "vbt_contacts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load(const char *path)
{
    if (!path)
        return;
    vbt_contacts *c = NULL;
    vbt_msg msg;
    msg.text[0] = '\0';
    if (vbt_contacts_load(&c, path, &msg) != VBT_OK) {
        if (c || !msg.text[0])
            abort(); /* no handle on failure, and a message */
        return;
    }
    for (size_t i = 0; i < 3 * c->n; i++)
        if (!isfinite(c->pos[i]))
            abort(); /* accepted positions are numbers */
    vbt_contacts_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load(fuzz_tmpfile(data, size, "_electrodes.tsv"));
    load(fuzz_tmpfile_slot(1, data, size, "_seeg.txt"));
    return 0;
}
