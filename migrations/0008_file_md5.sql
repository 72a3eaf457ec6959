-- 0008_file_md5: the MD5 of each stored 3MF, which print_command.file_md5 carries so a hub can
-- check its download before sending it to the printer (protocol error md5_mismatch).

ALTER TABLE print_file_details ADD COLUMN md5 TEXT;
