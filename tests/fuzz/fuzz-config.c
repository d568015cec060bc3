/* The configuration file: YAML and everything validated from it. */
#include "config.h"

#include <stdint.h>

#include "ri-config.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RiConfig) config = NULL;

  /* No credentials from the fuzzing machine's own auth files. */
  g_setenv ("HOME", "/nonexistent", TRUE);
  g_setenv ("XDG_RUNTIME_DIR", "/nonexistent", TRUE);
  g_setenv ("XDG_CONFIG_HOME", "/nonexistent", TRUE);
  g_unsetenv ("REGISTRY_AUTH_FILE");
  config = ri_config_load_data ((const char *) data, size, "fuzz.yaml", "/nonexistent", &error);
  g_assert ((config == NULL) != (error == NULL));
  return 0;
}
