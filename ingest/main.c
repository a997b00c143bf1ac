/* paystream-ingest entry point (placeholder until the CLI lands). */
#include <paystream/version.h>
#include <stdio.h>
int main(void)
{
    printf("paystream-ingest %s\n", PS_VERSION);
    return 0;
}
