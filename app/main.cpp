// The `optischema` executable: everything happens in app::run.
#include "cli.hpp"

int main(int argc, char** argv) {
  return optischema::app::run(argc, argv);
}
