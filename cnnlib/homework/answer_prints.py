"""Written by python -m cnnlib.homework build from homework/answers/NN.md; do not edit.

The fingerprint (written.fingerprint: SHA-256 of the rounded value) and the decimals of
every numeric written exercise, for check_answer. The values are not here.
"""

PRINTS = {
    '01.1': ('a2e53b2f2fe8dc3c6f76602b633d8babfbc50189996a924d0a53ebe4ac164dc9', 6),
    '01.2': ('42bd9047a5fd2d4922ba0fe3ab3f8fcc5e3971286c6015e27031adc2d959860a', 6),
    '02.1': ('0a9afc511200d9d3465e025b05f9c4f89934c3d545e7d35b909106437fc0dcbc', 6),
    '02.5': ('540e309cf8381cdbc4ad097b7e8dfc1e397f189dd24a64094fba64af3ef14292', 6),
    '03.1': ('b5d7e0e84c39bda59a0832ccf1de8daa668f5be7684938a478eda2b80413ae12', 4),
    '03.3': ('996cd0f963e9030ae915e4699f80d148b2c08f3aba99fbaf4fc02e9dc2727304', 3),
    '03.4': ('fef4635c7ca8cb019308efceb96789813436451a7792545951318f5f9f2c79f6', 2),
    '03.7': ('fa71756c2d09547b450f5523d20dece05f77ce64ccdeb3242d465bc99c2c680b', 3),
    '04.1': ('ff929dc9af1dea158008a8084cd575fa838a2bf5d5294124f636e5e5eefcfc2a', 6),
    '04.2': ('00705f86cd5c182471957b326a89bd8c497075e04c3e4d93f9e512ead26393e5', 6),
    '07.3': ('87b6eed816b18aaecb40679e3dd3c05a8b06b411a2c14f83e8d04904d2ae4d70', 6),
    '09.2': ('530878c4e05ac1e2fbe9770ff0566bfbe50e07f21b4ff1a18436417bbae186e7', 6),
    '09.6': ('3753b606972851dc74b7b5df9a638cf61f4ed6d9bbe41df122a7c5cecbc544ae', 6),
}
