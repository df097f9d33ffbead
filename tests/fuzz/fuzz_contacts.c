/* fuzz_contacts.c -- libFuzzer target: the input is a contacts table (BIDS
 * electrodes.tsv or a plain name/x/y/z table). */
#define _GNU_SOURCE
#include <math.h>
#include <string.h>

#include "fuzz_tmpfile.h"
#include "vbt_contacts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_tmpfile(data, size, "_electrodes.tsv");
    if (!path)
        return 0;
    vbt_contacts *c = NULL;
    vbt_msg msg;
    msg.text[0] = '\0';
    if (vbt_contacts_load(&c, path, &msg) != VBT_OK) {
        if (c || !msg.text[0])
            abort();
        return 0;
    }
    for (size_t i = 0; i < 3 * c->n; i++)
        if (!isfinite(c->pos[i]))
            abort(); /* accepted positions are numbers */
    vbt_contacts_free(c);
    return 0;
}
