import MMCore
print("mmsim")
