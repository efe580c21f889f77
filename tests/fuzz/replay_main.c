/* Replays a fuzz target's corpus: every file in the directories (or the files)
 * given on the command line is fed once to LLVMFuzzerTestOneInput. Run in the
 * normal test suite (under ASan+UBSan in the sanitizer build), so every input
 * that ever crashed a parser stays a regression test. Fails if no input ran. */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	size_t cap = 4096, len = 0;
	uint8_t *data = malloc(cap);
	size_t n;
	while (data && (n = fread(data + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			uint8_t *bigger = realloc(data, cap *= 2);
			if (!bigger) {
				free(data);
				data = NULL;
			}
			data = bigger;
		}
	}
	fclose(f);
	if (!data)
		return -1;
	/* Copy into an exact-size allocation so ASan catches reads past the end. */
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact) {
		free(data);
		return -1;
	}
	memcpy(exact, data, len);
	free(data);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

static int compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	int ran = 0, failed = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			failed |= run_file(argv[i]) != 0;
			ran++;
			continue;
		}
		DIR *dir = opendir(argv[i]);
		if (!dir) {
			perror(argv[i]);
			return 1;
		}
		char **names = NULL;
		size_t count = 0;
		struct dirent *e;
		while ((e = readdir(dir))) {
			if (e->d_name[0] == '.')
				continue;
			char **more = realloc(names, (count + 1) * sizeof(*names));
			if (!more)
				return 1;
			names = more;
			size_t len = strlen(argv[i]) + strlen(e->d_name) + 2;
			names[count] = malloc(len);
			snprintf(names[count++], len, "%s/%s", argv[i], e->d_name);
		}
		closedir(dir);
		qsort(names, count, sizeof(*names), compare);
		for (size_t k = 0; k < count; k++) {
			failed |= run_file(names[k]) != 0;
			ran++;
			free(names[k]);
		}
		free(names);
	}
	printf("replayed %d inputs\n", ran);
	if (ran == 0) {
		fprintf(stderr, "no corpus input found\n");
		return 1;
	}
	return failed;
}
