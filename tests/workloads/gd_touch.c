// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * gd_touch FILE: creates FILE and exits 0. The guard tests exec it under a
 * denied name: if its first instruction ran, the file would exist.
 */
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fd;

	if (argc < 2)
		return 2;
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 1;
	if (write(fd, "ran\n", 4) != 4)
		return 1;
	return close(fd) ? 1 : 0;
}
