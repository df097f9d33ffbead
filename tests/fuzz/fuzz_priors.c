/* fuzz_priors.c -- libFuzzer target: the input is a VEP prior file (JSON,
 * `vbt fit --prior`) for a 4-region model with labels.  An accepted prior
 * set must validate, and its resolved JSON (vbt_vep_priors_json) must read
 * back to the same priors, bit for bit. */
#define _GNU_SOURCE
#include <string.h>

#include "fuzz_tmpfile.h"
#include "vbt_vep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char labels[4][VBT_LABEL_MAX] = {"ctx-lh-insula", "ctx-rh-insula",
                                                  "Left-Thalamus", "Right-Thalamus"};
    const char *path = fuzz_tmpfile(data, size, ".json");
    if (!path)
        return 0;
    vbt_vep_priors p, q;
    vbt_vep_priors_default(&p);
    vbt_msg msg;
    msg.text[0] = '\0';
    if (vbt_vep_priors_load_json(&p, path, labels, 4, &msg) != VBT_OK) {
        if (!msg.text[0])
            abort(); /* every refusal says why */
        return 0;
    }
    if (vbt_vep_priors_validate(&p, 4, &msg) != VBT_OK)
        abort();
    char *txt = vbt_vep_priors_json(&p);
    if (!txt)
        return 0;
    const char *back = fuzz_tmpfile((const uint8_t *)txt, strlen(txt), ".json");
    vbt_vep_priors_default(&q);
    if (back && (vbt_vep_priors_load_json(&q, back, labels, 4, &msg) != VBT_OK ||
                 memcmp(&p, &q, sizeof p) != 0))
        abort();
    free(txt);
    return 0;
}
