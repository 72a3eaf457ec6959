"""Hub platform: provisioning, discovery, OTA, application updates, watchdog, safe mode.

What the application (hub.app) uses:
- device.platform.supervise_app(link.is_up) -> (watchdog, health_check): confirms a trial
  boot (new firmware or application slot) once the cloud link is stably up, else resets so
  the bootloader or loader falls back; critical tasks call watchdog.register(name).beat().
- device.health.boot_report(): hub_hello extras (firmware, reset_reason, boot_count,
  app_slot) and "notes" for hub_log (rollback, watchdog reset and the stalled task).
- device.discovery.handle(msg, link) and device.ota.handle(msg, link): the discover_printers
  and ota_update commands; they return command_ack fields.
- safe mode: the loader calls the frozen entry module's safe_main() if it has one, which
  should run device.safemode.run(link=..., fetch=device.fetch.make_fetch(link.tls_for)).
"""
