/* The command table: one line per subcommand, in `vigil --help` order. */
VIGIL_CMD(proc)
VIGIL_CMD(syscall)
VIGIL_CMD(filetop)
VIGIL_CMD(file)
VIGIL_CMD(top)
VIGIL_CMD(tcp)

VIGIL_CMD(profile)

VIGIL_CMD(security)

VIGIL_CMD(sched)
VIGIL_CMD(doctor)
VIGIL_CMD(firewall)
VIGIL_CMD(mem)
VIGIL_CMD(containers)
VIGIL_CMD(agent)
VIGIL_CMD(completion)
VIGIL_CMD(guard)

VIGIL_CMD(disk)
