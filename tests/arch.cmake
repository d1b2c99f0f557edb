# The tree's own rules: the layer rule of harness/src/ and the committed
# .clang-format (tests/arch/check.sh), no function over 80 lines (funclen.py).
add_test(NAME arch.layers COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/arch/check.sh ${PROJECT_SOURCE_DIR} layers)
add_test(NAME arch.format COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/arch/check.sh ${PROJECT_SOURCE_DIR} format)
set_tests_properties(arch.layers arch.format PROPERTIES TIMEOUT 120 LABELS arch)
add_test(NAME arch.funcs COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/arch/funclen.py ${PROJECT_SOURCE_DIR})
set_tests_properties(arch.funcs PROPERTIES TIMEOUT 120 LABELS arch)
