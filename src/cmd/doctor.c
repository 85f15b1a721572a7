// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include "core/vigil.h"
static int doctor_run(int argc, char **argv) { return 0; }
const struct vigil_cmd cmd_doctor = { .name = "doctor", .run = doctor_run, .summary = "check", };
