/* surgery_cli.h -- what `vbt predict` and `vbt surgery` share: the options
 * describing the model and the posterior draws, and the set-up of a
 * vbt_predict handle from them (implemented in cmd_predict.c). */
#ifndef VBT_CLI_SURGERY_H
#define VBT_CLI_SURGERY_H

#include <stdio.h>
#include <cJSON.h>

#include "cli.h"
#include "vbt.h"
#include "vbt_predict.h"
#include "vbt_surgery.h"

/* The options of both commands, first in their usage tables. */
#define SURGERY_CLI_OPTIONS                                                                  \
    {.name = "connectome", .short_name = 'c', .kind = CLI_FILE_IN, .metavar = "ZIP",         \
     .doc = "TVB connectivity (zip or directory)", .required = 1},                           \
    {.name = "draws", .short_name = 'd', .kind = CLI_FILE_IN, .metavar = "X0.npy",           \
     .doc = "posterior draws of x0, [draw, region] (a 1-D array is one draw)",               \
     .required = 1},                                                                         \
    {.name = "output", .short_name = 'o', .kind = CLI_FILE_OUT, .metavar = "OUTDIR",         \
     .doc = "output directory (created; its parent must exist)", .required = 1},             \
    {.name = "normalize", .kind = CLI_TEXT, .metavar = "HOW", .def = "max",                  \
     .choices = "none|max|row-sum",                                                          \
     .doc = "weight normalisation (the VEP divides by the largest weight)"},                 \
    {.name = "model", .kind = CLI_TEXT, .metavar = "NAME", .def = "epileptor2d",             \
     .choices = "epileptor2d|epileptor",                                                     \
     .doc = "the VEP's 2D Epileptor network, or the 6-variable Epileptor (TVB)"},            \
    {.name = "K", .kind = CLI_FLOAT, .metavar = "K", .def = "1", .min = 0, .max = 1e6,       \
     .doc = "global coupling (dz gets -K sum_j C_ij (x_j - x_i)); see --k-npy"},             \
    {.name = "k-npy", .kind = CLI_FILE_IN, .metavar = "K.npy",                               \
     .doc = "per-draw K, [draw] (replaces --K)"},                                            \
    {.name = "tau0", .kind = CLI_FLOAT, .metavar = "T", .min = 1e-9, .max = 1e12,            \
     .doc = "time scale of z, r = 1/tau0 (default 10 for epileptor2d, 2857 for epileptor)"}, \
    {.name = "tau0-npy", .kind = CLI_FILE_IN, .metavar = "TAU0.npy",                         \
     .doc = "per-draw tau0, [draw] (replaces --tau0)"},                                      \
    {.name = "I1", .kind = CLI_FLOAT, .metavar = "I", .def = "3.1", .min = -1e6, .max = 1e6, \
     .doc = "input current I1 (Iext)"},                                                      \
    {.name = "scheme", .kind = CLI_TEXT, .metavar = "NAME", .choices = "euler|heun|rk4",    \
     .doc = "integration scheme (default euler for epileptor2d as BVEP, heun for "           \
            "epileptor)"},                                                                   \
    {.name = "dt", .kind = CLI_FLOAT, .metavar = "DT", .min = 1e-9, .max = 1e9,              \
     .doc = "time step (default 0.1 for epileptor2d, 0.05 ms for epileptor)"},               \
    {.name = "duration", .kind = CLI_FLOAT, .metavar = "T", .min = 1e-9, .max = 1e12,        \
     .doc = "horizon of every simulation (default 100 for epileptor2d, 10000 ms for "        \
            "epileptor)"},                                                                   \
    {.name = "speed", .kind = CLI_FLOAT, .metavar = "MM_PER_MS", .min = 1e-6, .max = 1e12,   \
     .doc = "conduction speed for delays from the tract lengths (default: no delays)"},      \
    {.name = "threshold", .kind = CLI_FLOAT, .metavar = "X", .def = "0", .min = -1e6,        \
     .max = 1e6, .doc = "a region is recruited when x1 rises above this value"},             \
    {.name = "healthy-x0", .kind = CLI_FLOAT, .metavar = "X0", .def = "-3", .min = -1e6,     \
     .max = 1e6, .doc = "excitability of resected regions"},                                 \
    {.name = "init-x0-max", .kind = CLI_FLOAT, .metavar = "X0", .def = "-2.5", .min = -1e6,  \
     .max = 1e6,                                                                             \
     .doc = "regions start at the rest state of min(median x0, this) (docs/surgery.md)"},    \
    {.name = "init-state", .kind = CLI_TEXT, .metavar = "X,Z",                               \
     .doc = "every region not resected starts at (x1, z) = (X, Z), the initial state the "  \
            "fit held (vbt fit's x_init, z_init), instead of a rest state"},                 \
    {.name = "noise", .kind = CLI_FLOAT, .metavar = "D", .def = "0", .min = 0, .max = 1e6,   \
     .doc = "additive noise intensity D on x1 and z (0: deterministic)"},                    \
    {.name = "batch", .kind = CLI_INT, .metavar = "B", .def = "64", .min = 1, .max = 4096,   \
     .doc = "draws simulated side by side"}

/* The loaded inputs (clinical/'s vbt_predict) and their handle. */
typedef struct surgery_cli {
    vbt_predict *pr;
    vbt_surgery *s;                 /* vbt_predict_surgery(pr) */
    const vbt_connectome *conn;     /* the normalised connectome */
} surgery_cli;

/* Load the connectome and draws named by the options and build the handle;
 * prints one error line and returns CLI_ERROR on failure. */
int surgery_cli_setup(surgery_cli *c, const cli_parsed *p);
void surgery_cli_free(surgery_cli *c);

#endif
