/*
 * worker_main.c — bff-worker, the production job kinds only (worker.h).
 */
#include "worker.h"

int main(int argc, char **argv)
{
    return bff_worker_main(argc, argv, NULL);
}
