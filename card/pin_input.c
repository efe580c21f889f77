#include "card/pin_input.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Reads byte by byte up to a newline so that nothing after the PIN is
 * consumed from a descriptor the caller may reuse. */
static int read_line(int fd, char *out, size_t cap, size_t *len)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -EIO;
		if (r == 0 || c == '\n')
			break;
		if (n + 1 >= cap) {
			explicit_bzero(out, cap);
			return -EOVERFLOW;
		}
		out[n++] = c;
	}
	if (n > 0 && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	*len = n;
	return n == 0 ? -ENODATA : 0;
}

int pin_input_read(int fd, const char *prompt, char *out, size_t cap, size_t *len)
{
	if (cap == 0)
		return -EINVAL;
	if (fd >= 0)
		return read_line(fd, out, cap, len);

	int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (tty < 0)
		return -ENOTTY;
	struct termios saved, quiet;
	if (tcgetattr(tty, &saved) < 0) {
		close(tty);
		return -ENOTTY;
	}
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	quiet.c_lflag |= ICANON;
	/* Block job-control signals while echo is off so a ^Z cannot leave the
	 * terminal silent. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTSTP);
	sigaddset(&block, SIGTTOU);
	sigprocmask(SIG_BLOCK, &block, &old);
	if (write(tty, prompt, strlen(prompt)) < 0) {
		/* The prompt is a courtesy; reading still works without it. */
	}
	tcsetattr(tty, TCSAFLUSH, &quiet);
	int err = read_line(tty, out, cap, len);
	tcsetattr(tty, TCSAFLUSH, &saved);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (write(tty, "\n", 1) < 0) {
		/* as above */
	}
	close(tty);
	return err;
}
