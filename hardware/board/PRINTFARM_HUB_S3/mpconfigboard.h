// PrintFarm hub: ESP32-S3-WROOM-1-N16R8 (16 MiB quad flash, 8 MiB octal PSRAM).
#define MICROPY_HW_BOARD_NAME               "PrintFarm hub (ESP32-S3, 16MB flash, octal PSRAM)"
#define MICROPY_HW_MCU_NAME                 "ESP32S3"

// The module has an external USB-UART on the dev board: keep the UART REPL for engineers.
#define MICROPY_HW_ENABLE_UART_REPL         (1)

// TLS session resumption (hardware/patches): FTPS data channels on X1-class printers.
#define MICROPY_PY_SSL_SESSION              (1)
