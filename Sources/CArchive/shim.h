#include <archive.h>
#include <archive_entry.h>
#include <sys/xattr.h>  /* llistxattr/lgetxattr for TreeScanner */
