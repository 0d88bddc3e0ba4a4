// The header must also compile as C++.
#include "dashpack.h"

int main() {
  DashpackOptions o;
  dashpack_options_default(&o);
  return o.force;
}
