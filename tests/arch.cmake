# The tree's own rules (tests/arch/check.sh): the layer rule of harness/src/
# and the committed .clang-format.
add_test(NAME arch.layers COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/arch/check.sh ${PROJECT_SOURCE_DIR} layers)
add_test(NAME arch.format COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/arch/check.sh ${PROJECT_SOURCE_DIR} format)
set_tests_properties(arch.layers arch.format PROPERTIES TIMEOUT 120 LABELS arch)
