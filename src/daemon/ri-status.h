#pragma once

#include <gio/gio.h>

#include "ri-fedmsg-subscriber.h"
#include "ri-http-server.h"
#include "ri-model-keeper.h"
#include "ri-run-report.h"
#include "ri-scheduler.h"

G_BEGIN_DECLS

GVariant *ri_status_build    (RiScheduler        *scheduler,
                              const char         *config_path,
                              RiFedmsgSubscriber *fedmsg,
                              RiHttpServer       *http,
                              RiModelKeeper      *models);
GVariant *ri_status_requests (const RiRunReport  *report);

G_END_DECLS
