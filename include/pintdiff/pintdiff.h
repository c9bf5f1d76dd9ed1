/* pintdiff: the public C API (one include for all of it). */
#ifndef PINTDIFF_H
#define PINTDIFF_H

#include "pintdiff/model.h"
#include "pintdiff/rng.h"
#include "pintdiff/schedule.h"
#include "pintdiff/solver.h"
#include "pintdiff/state.h"
#include "pintdiff/status.h"
#include "pintdiff/version.h"

#endif
