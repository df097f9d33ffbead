/* fuzz_nifti.c -- libFuzzer target: the input is a label volume (.nii,
 * through nifticlib and vbt's checks of datatype, integer values, frames and
 * affine), loaded with a fixed three-label table; an accepted parcellation
 * is summarised region by region. */
#define _GNU_SOURCE
#include <string.h>

#include "fuzz_tmpfile.h"
#include "vbt_parcellation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char table[] = "index\tname\n1\tctx-lh-insula\n2\tctx-rh-insula\n3\tLeft-Thalamus\n";
    const char *labels = fuzz_tmpfile_slot(1, (const uint8_t *)table, sizeof table - 1, ".tsv");
    const char *vol = fuzz_tmpfile(data, size, ".nii");
    if (!labels || !vol)
        return 0;
    vbt_parcellation *p = NULL;
    vbt_msg msg;
    msg.text[0] = '\0';
    if (vbt_parcellation_load(&p, vol, labels, &msg) != VBT_OK) {
        if (p || !msg.text[0])
            abort(); /* no handle on failure, and a message */
        return 0;
    }
    const vbt_region_info *r = vbt_parcellation_regions(p);
    double tot = 0;
    for (size_t i = 0; i < vbt_parcellation_n_regions(p); i++)
        tot += r[i].volume_mm3 + (double)r[i].n_voxels;
    if (!(tot >= 0))
        abort();
    vbt_parcellation_free(p);
    return 0;
}
