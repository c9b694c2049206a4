#include "auth/auth_store.h"
