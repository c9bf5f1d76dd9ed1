/* placeholder main, replaced by the CLI */
#include "pintdiff/pintdiff.h"
int main(void) { return 0; }
