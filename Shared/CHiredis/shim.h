#ifndef FLEET_CHIREDIS_SHIM_H
#define FLEET_CHIREDIS_SHIM_H
// pkg-config's -I points inside hiredis/ on some distributions and above it on others.
#if __has_include(<hiredis/hiredis.h>)
#include <hiredis/hiredis.h>
#else
#include <hiredis.h>
#endif
#endif
