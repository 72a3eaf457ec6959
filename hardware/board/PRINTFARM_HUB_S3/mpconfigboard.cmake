# PrintFarm hub: ESP32-S3 with octal PSRAM and 16 MiB flash (out-of-tree board; build with
# BOARD_DIR=<printfarm>/hardware/board/PRINTFARM_HUB_S3, see hardware/README.md).
set(IDF_TARGET esp32s3)

# ESP-IDF takes the partition table's path from sdkconfig, relative to ports/esp32 unless
# absolute: write a one-line fragment with the absolute path of this board's table.
file(WRITE ${CMAKE_BINARY_DIR}/sdkconfig.printfarm_partitions
    "CONFIG_PARTITION_TABLE_CUSTOM=y\nCONFIG_PARTITION_TABLE_CUSTOM_FILENAME=\"${MICROPY_BOARD_DIR}/partitions-16MiB-ota.csv\"\n")

set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    boards/sdkconfig.ble
    boards/sdkconfig.240mhz
    boards/sdkconfig.spiram_sx
    boards/sdkconfig.spiram_oct
    ${MICROPY_BOARD_DIR}/sdkconfig.board
    ${CMAKE_BINARY_DIR}/sdkconfig.printfarm_partitions
)

set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)
